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
        // The datagram is a slice of a large vector-read buffer; a copy keeps that buffer from being pinned while
        // the query waits for its answer.
        var message = context.channel.allocator.buffer(capacity: envelope.data.readableBytes)
        message.writeImmutableBuffer(envelope.data)
        let client = envelope.remoteAddress
        let metadata = DNSRequestMetadata(client: client, transport: .udp)
        switch QueryIntake(message: message, metadata: metadata, deadline: .now() + self.queryTimeout) {
        case .drop:
            return
        case .reply(let reply):
            self.send(reply, to: client, limit: 512)
        case .request(let request):
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
