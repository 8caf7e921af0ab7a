import DNSCore
import DNSWire
import NIOCore

/// Carries many queries at once over one upstream connection (RFC 7766 §6.2.1.1, RFC 7858 §3.3): each query gets
/// a fresh upstream-side ID, answers are matched by ID and question in whatever order they arrive, and anything
/// that matches no query in flight is dropped. Per-query deadlines fail the query, not the connection.
///
/// The owning ``UpstreamConnectionSlot`` calls ``send(_:promise:)`` directly on the channel's event loop.
final class UpstreamMultiplexer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// How messages are delimited on the connection.
    enum Framing {
        /// TCP and TLS: a 16-bit length before each message.
        case lengthPrefixed
        /// A connected UDP socket: one message per datagram.
        case datagram
    }

    private struct Pending {
        var clientID: UInt16
        var question: DNSQuestion
        var promise: EventLoopPromise<UpstreamAnswer>
        var timeout: Scheduled<Void>
    }

    private let framing: Framing
    private let maxInFlight: Int
    private let upstreamName: String
    private var pending: [UInt16: Pending] = [:]
    private var context: ChannelHandlerContext?
    private var random = FastRandom()
    private var flushScheduled = false
    private var closed = false

    /// Answers dropped because they matched no query in flight or were malformed.
    private(set) var unmatchedAnswers = 0

    init(framing: Framing, maxInFlight: Int, upstreamName: String) {
        self.framing = framing
        self.maxInFlight = min(maxInFlight, 60_000)
        self.upstreamName = upstreamName
    }

    /// Queries sent and not yet answered.
    var inFlight: Int { self.pending.count }

    /// Whether the connection can take another query now.
    var isOpen: Bool { self.context != nil && !self.closed }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.failAll(.connectionClosed(self.upstreamName))
        self.context = nil
    }

    /// Sends `query` with a fresh ID; `promise` completes with the matching answer or an ``UpstreamError``.
    func send(_ query: UpstreamQuery, promise: EventLoopPromise<UpstreamAnswer>) {
        guard let context, !self.closed else {
            promise.fail(UpstreamError.connectionClosed(self.upstreamName))
            return
        }
        guard self.pending.count < self.maxInFlight, let clientID = query.message.dnsMessageID else {
            promise.fail(UpstreamError.busy(self.upstreamName))
            return
        }
        var id = UInt16.random(in: .min ... .max, using: &self.random)
        while self.pending[id] != nil { id = UInt16.random(in: .min ... .max, using: &self.random) }

        var out = context.channel.allocator.buffer(capacity: query.message.readableBytes + 2)
        if self.framing == .lengthPrefixed {
            out.writeInteger(UInt16(clamping: query.message.readableBytes))
        }
        let start = out.writerIndex
        out.writeImmutableBuffer(query.message)
        out.setInteger(id, at: start)

        let timeout = context.eventLoop.assumeIsolated().scheduleTask(deadline: query.deadline) {
            self.expire(id)
        }
        self.pending[id] = Pending(clientID: clientID, question: query.question, promise: promise, timeout: timeout)
        context.write(self.wrapOutboundOut(out), promise: nil)
        self.scheduleFlush(context: context)
    }

    /// Flushes once per event loop tick, so that a burst of queries leaves in as few writes as possible.
    private func scheduleFlush(context: ChannelHandlerContext) {
        guard !self.flushScheduled else { return }
        self.flushScheduled = true
        context.eventLoop.assumeIsolated().execute {
            self.flushScheduled = false
            self.context?.flush()
        }
    }

    private func expire(_ id: UInt16) {
        guard let entry = self.pending.removeValue(forKey: id) else { return }
        entry.promise.fail(UpstreamError.timeout(self.upstreamName))
        self.closeIfDrained()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let message = self.unwrapInboundIn(data)
        // The question must match too (RFC 5452 §9.1): an ID alone is 16 bits of evidence.
        guard let id = message.dnsMessageID, let entry = self.pending[id],
            let view = try? DNSMessageView(message), view.header.isResponse,
            view.question == entry.question
        else {
            self.unmatchedAnswers += 1
            return
        }
        self.pending[id] = nil
        entry.timeout.cancel()
        var answer = message
        answer.setDNSMessageID(entry.clientID)
        entry.promise.succeed(UpstreamAnswer(message: answer, view: view))
        self.closeIfDrained()
    }

    private func closeIfDrained() {
        if self.closed, self.pending.isEmpty { self.context?.close(promise: nil) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.closed = true
        self.failAll(.connectionClosed(self.upstreamName))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch self.framing {
        case .lengthPrefixed:
            // A broken stream cannot be resynchronised: close it, and the slot reconnects.
            self.closed = true
            context.close(promise: nil)
        case .datagram:
            // ICMP errors (ECONNREFUSED) surface here; fail what is in flight so the client hears promptly.
            self.failAll(.connectFailed(self.upstreamName, reason: "\(error)"))
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent, self.pending.isEmpty {
            self.closed = true
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Stops taking queries and closes the connection once the queries in flight have been answered or expired.
    func closeWhenIdle() {
        self.closed = true
        self.closeIfDrained()
    }

    private func failAll(_ error: UpstreamError) {
        let entries = self.pending
        self.pending.removeAll()
        for entry in entries.values {
            entry.timeout.cancel()
            entry.promise.fail(error)
        }
    }
}
