import DNSCore
import DNSWire
import NIOCore

/// Carries many queries at once over one upstream connection (RFC 7766 §6.2.1.1, RFC 7858 §3.3): each query gets
/// a fresh upstream-side ID, answers are matched by ID and question in whatever order they arrive, and anything
/// that matches no query in flight is dropped. Per-query deadlines fail the query, not the connection
/// (``InFlightQueries``).
///
/// The owning ``UpstreamConnectionSlot`` calls ``send(_:promise:)`` directly on the channel's event loop.
final class UpstreamMultiplexer: ChannelInboundHandler, RemovableChannelHandler, ConnectionBackedCarrier {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// How messages are delimited on the connection.
    enum Framing {
        /// TCP and TLS: a 16-bit length before each message.
        case lengthPrefixed
        /// A connected UDP socket: one message per datagram.
        case datagram
    }

    private let framing: Framing
    private let maxInFlight: Int
    private let upstreamName: String
    let connection: CarrierConnection<UInt16>
    private var pending: InFlightQueries<UInt16> { self.connection.pending }
    private var random = FastRandom()

    /// Answers dropped because they matched no query in flight or were malformed.
    private(set) var unmatchedAnswers = 0

    /// Where bad replies are counted.
    private let statistics: UpstreamStatistics?

    init(framing: Framing, maxInFlight: Int, idleTimeout: TimeAmount, upstreamName: String,
         statistics: UpstreamStatistics? = nil) {
        self.statistics = statistics
        self.framing = framing
        self.maxInFlight = min(maxInFlight, 60_000)
        self.upstreamName = upstreamName
        self.connection = CarrierConnection(upstreamName: upstreamName, idleTimeout: idleTimeout)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.connection.attach(context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.connection.detach(failing: .connectionClosed(self.upstreamName))
    }

    /// Sends `query` with a fresh ID; `promise` completes with the matching answer or an ``UpstreamError``.
    func send(_ query: UpstreamQuery, promise: EventLoopPromise<UpstreamAnswer>) {
        guard let context = self.connection.context, self.connection.isOpen else {
            promise.fail(UpstreamError.connectionClosed(self.upstreamName))
            return
        }
        guard self.pending.count < self.maxInFlight, let clientID = query.message.dnsMessageID else {
            promise.fail(UpstreamError.busy(self.upstreamName))
            return
        }
        var id = UInt16.random(in: .min ... .max, using: &self.random)
        while self.pending.contains(id) { id = UInt16.random(in: .min ... .max, using: &self.random) }

        var out = context.channel.allocator.buffer(capacity: query.message.readableBytes + 2)
        if self.framing == .lengthPrefixed {
            out.writeInteger(UInt16(clamping: query.message.readableBytes))
        }
        let start = out.writerIndex
        out.writeImmutableBuffer(query.message)
        out.setInteger(id, at: start)

        self.pending.insert(.init(clientID: clientID, question: query.question, promise: promise,
                                  deadline: query.deadline), for: id, on: context.eventLoop)
        context.write(self.wrapOutboundOut(out), promise: nil)
        self.connection.flusher.flushSoon()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let message = self.unwrapInboundIn(data)
        // The question must match too (RFC 5452 §9.1): an ID alone is 16 bits of evidence.
        guard let id = message.dnsMessageID, let entry = self.pending[id],
            let view = try? DNSMessageView(message), view.header.isResponse,
            view.question == entry.question
        else {
            self.unmatchedAnswers += 1
            self.statistics?.failed(.badReply)
            return
        }
        _ = self.pending.remove(id)
        self.connection.touch(context.eventLoop.now)
        var answer = message
        answer.setDNSMessageID(entry.clientID)
        entry.promise.succeed(UpstreamAnswer(message: answer, view: view, upstream: self.upstreamName))
        self.connection.closeIfDrained()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.connection.markClosed(failing: .connectionClosed(self.upstreamName))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch self.framing {
        case .lengthPrefixed:
            // A broken stream cannot be resynchronised: close it, and the slot reconnects.
            self.connection.markClosed(failing: nil)
            context.close(promise: nil)
        case .datagram:
            // ICMP errors (ECONNREFUSED) surface here; fail what is in flight so the client hears promptly.
            self.pending.failAll(.connectFailed(self.upstreamName, reason: "\(error)"))
        }
    }

}
