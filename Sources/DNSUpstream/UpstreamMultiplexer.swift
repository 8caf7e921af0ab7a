import DNSCore
import DNSWire
import NIOCore

/// Carries many queries at once over one upstream connection (RFC 7766 §6.2.1.1, RFC 7858 §3.3): each query gets
/// a fresh upstream-side ID, answers are matched by ID and question in whatever order they arrive, and anything
/// that matches no query in flight is dropped. Per-query deadlines fail the query, not the connection; they are
/// checked by one sweep every ``sweepInterval`` rather than a timer per query, whose cancellation costs a linear
/// search of the event loop's timer heap.
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
        var deadline: NIODeadline
    }

    /// How often deadlines are checked while queries are in flight: the precision of a query's timeout.
    static let sweepInterval = TimeAmount.milliseconds(50)

    private let framing: Framing
    private let maxInFlight: Int
    private let upstreamName: String
    private var pending: [UInt16: Pending] = [:]
    private var context: ChannelHandlerContext?
    private var random = FastRandom()
    private let flusher = TickFlusher()
    private let idleTimer: IdleConnectionTimer
    private var sweepScheduled = false
    private var closed = false

    /// Answers dropped because they matched no query in flight or were malformed.
    private(set) var unmatchedAnswers = 0

    /// Where bad replies are counted.
    private let statistics: UpstreamStatistics?

    init(framing: Framing, maxInFlight: Int, idleTimeout: TimeAmount, upstreamName: String,
         statistics: UpstreamStatistics? = nil) {
        self.statistics = statistics
        self.framing = framing
        self.maxInFlight = min(maxInFlight, 60_000)
        self.idleTimer = IdleConnectionTimer(timeout: idleTimeout)
        self.upstreamName = upstreamName
    }

    /// Queries sent and not yet answered.
    var inFlight: Int { self.pending.count }

    /// Whether the connection can take another query now.
    var isOpen: Bool { self.context != nil && !self.closed }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.flusher.attach(context)
        // A connection with nothing in flight for the idle timeout is closed; the slot reopens it when needed.
        self.idleTimer.start(on: context.eventLoop, isIdle: { self.pending.isEmpty }, close: {
            self.closed = true
            self.context?.close(promise: nil)
        })
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.failAll(.connectionClosed(self.upstreamName))
        self.context = nil
        self.flusher.detach()
        self.idleTimer.stop()
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

        self.pending[id] = Pending(clientID: clientID, question: query.question, promise: promise,
                                   deadline: query.deadline)
        context.write(self.wrapOutboundOut(out), promise: nil)
        self.flusher.flushSoon()
        self.scheduleSweep(context: context)
    }

    private func scheduleSweep(context: ChannelHandlerContext) {
        guard !self.sweepScheduled else { return }
        self.sweepScheduled = true
        context.eventLoop.assumeIsolated().scheduleTask(in: Self.sweepInterval) {
            self.sweepScheduled = false
            self.expireOverdue()
        }
    }

    /// Fails the queries whose deadline has passed, and keeps sweeping while any are left.
    private func expireOverdue() {
        guard let now = self.context?.eventLoop.now else { return }
        var overdue: [UInt16] = []
        for (id, entry) in self.pending where entry.deadline <= now { overdue.append(id) }
        for id in overdue {
            self.pending.removeValue(forKey: id)?.promise.fail(UpstreamError.timeout(self.upstreamName))
        }
        self.closeIfDrained()
        if !self.pending.isEmpty, let context = self.context { self.scheduleSweep(context: context) }
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
        self.pending[id] = nil
        self.idleTimer.touch(context.eventLoop.now)
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

    /// Stops taking queries and closes the connection once the queries in flight have been answered or expired.
    func closeWhenIdle() {
        self.closed = true
        self.closeIfDrained()
    }

    private func failAll(_ error: UpstreamError) {
        let entries = self.pending
        self.pending.removeAll()
        for entry in entries.values {
            entry.promise.fail(error)
        }
    }
}
