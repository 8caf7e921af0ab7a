import DNSCore
import DNSWire
import NIOCore

/// Answers DNS queries arriving on a UDP socket: each datagram goes through the pipeline and its answer goes back
/// to the sender, cut down to the client's EDNS payload size (512 bytes without EDNS) with TC=1 when it does not
/// fit. Writes are flushed once per event loop tick.
final class UDPQueryHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let pipeline: any DNSHandler
    private let queryTimeout: TimeAmount
    private let inFlight: InFlightCounter
    private let flusher = TickFlusher()
    private var context: ChannelHandlerContext?

    init(pipeline: any DNSHandler, queryTimeout: TimeAmount, inFlight: InFlightCounter) {
        self.pipeline = pipeline
        self.queryTimeout = queryTimeout
        self.inFlight = inFlight
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.flusher.attach(context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.flusher.detach()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = self.unwrapInboundIn(data)
        let client = envelope.remoteAddress
        let metadata = DNSRequestMetadata(client: client, transport: .udp)
        switch QueryIntake(message: envelope.data, metadata: metadata, deadline: .now() + self.queryTimeout) {
        case .drop:
            return
        case .reply(let reply):
            self.send(reply, to: client, limit: 512)
        case .request(let request):
            if let response = self.pipeline.immediateAnswer(to: request) {
                self.send(response.message, to: client, limit: request.maxUDPResponseSize)
                return
            }
            self.answerLater(request, client: client, context: context)
        }
    }

    /// Sends `request` down the pipeline. The datagram is a slice of a large vector-read buffer; the request gets
    /// its own copy so that it does not pin that buffer while it waits for an upstream.
    private func answerLater(_ request: DNSRequest, client: SocketAddress, context: ChannelHandlerContext) {
        var message = context.channel.allocator.buffer(capacity: request.message.readableBytes)
        message.writeImmutableBuffer(request.message)
        guard let request = DNSRequest(message: message, view: request.view, metadata: request.metadata,
                                       deadline: request.deadline)
        else { return }
        self.inFlight.increment()
        let limit = request.maxUDPResponseSize
        self.pipeline.handle(request, eventLoop: context.eventLoop).assumeIsolated().whenComplete { result in
            self.inFlight.decrement()
            switch result {
            case .success(let response):
                self.send(response.message, to: client, limit: limit)
            case .failure:
                self.send(DNSResponse.error(.servFail, for: request).message, to: client, limit: limit)
            }
        }
    }

    private func send(_ message: ByteBuffer, to client: SocketAddress, limit: Int) {
        guard let context = self.context else { return }
        var message = message
        if message.readableBytes > limit {
            guard let view = try? DNSMessageView(message) else { return }
            message = message.dnsTruncated(view: view, allocator: context.channel.allocator)
        }
        context.write(self.wrapOutboundOut(AddressedEnvelope(remoteAddress: client, data: message)), promise: nil)
        self.flusher.flushSoon()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Errors on a UDP socket (ICMP unreachable from a client that went away, oversized datagrams) concern
        // single datagrams; the listener stays open.
    }
}
