import DNSCore
import NIOCore

/// What a query carrier keeps about its connection besides the protocol: the channel context, the queries in
/// flight, the idle timer (a connection with nothing in flight for the idle timeout is closed, and the slot reopens
/// it when needed), the tick flusher, and whether it is closing. Confined to the connection's event loop.
final class CarrierConnection<Key: Hashable> {
    let pending: InFlightQueries<Key>
    let flusher: TickFlusher
    private(set) var context: ChannelHandlerContext?
    private let idleTimer: IdleConnectionTimer
    /// No more queries are taken; the connection closes once those in flight are done.
    private(set) var closing = false

    /// `flush` runs at the end of a tick that wrote (by default the channel's flush).
    init(upstreamName: String, idleTimeout: TimeAmount,
         flush: @escaping (ChannelHandlerContext) -> Void = { $0.flush() }) {
        self.flusher = TickFlusher(flush: flush)
        self.pending = InFlightQueries(upstreamName: upstreamName)
        self.idleTimer = IdleConnectionTimer(timeout: idleTimeout)
        self.pending.afterSweep = { [weak self] in self?.closeIfDrained() }
    }

    /// Whether the connection can take another query now.
    var isOpen: Bool { self.context != nil && !self.closing }

    /// The carrier was added to the pipeline.
    func attach(_ context: ChannelHandlerContext) {
        self.context = context
        self.flusher.attach(context)
        self.idleTimer.start(on: context.eventLoop, isIdle: { self.pending.isEmpty }, close: {
            self.closing = true
            self.context?.close(promise: nil)
        })
    }

    /// The carrier left the pipeline: whatever is in flight fails with `error`.
    func detach(failing error: UpstreamError) {
        self.pending.failAll(error)
        self.context = nil
        self.flusher.detach()
        self.idleTimer.stop()
    }

    /// An answer arrived now.
    func touch(_ now: NIODeadline) {
        self.idleTimer.touch(now)
    }

    /// Stops taking queries and closes the connection once those in flight are answered or expired.
    func closeWhenIdle() {
        self.closing = true
        self.closeIfDrained()
    }

    /// Closes the connection now if it is closing and nothing is in flight.
    func closeIfDrained() {
        if self.closing, self.pending.isEmpty { self.context?.close(promise: nil) }
    }

    /// The connection is gone or broken: no more queries, and those in flight fail with `error`.
    func markClosed(failing error: UpstreamError?) {
        self.closing = true
        if let error { self.pending.failAll(error) }
    }
}

/// A ``QueryCarrier`` whose connection state lives in a ``CarrierConnection``.
protocol ConnectionBackedCarrier: QueryCarrier {
    associatedtype Key: Hashable
    var connection: CarrierConnection<Key> { get }
}

extension ConnectionBackedCarrier {
    var inFlight: Int { self.connection.pending.count }

    var isOpen: Bool { self.connection.isOpen }

    func closeWhenIdle() {
        self.connection.closeWhenIdle()
    }
}
