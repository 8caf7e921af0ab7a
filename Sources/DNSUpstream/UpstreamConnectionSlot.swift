import DNSCore
import Logging
import NIOCore
import UpstreamTLS

/// One upstream connection on one event loop, opened on first use and reopened after it closes. Queries that
/// arrive while it connects wait for it, up to their deadline and at most ``connectionWaitBound``; after a failed
/// attempt it backs off exponentially, and queries whose wait ends before the back-off does fail at once (so
/// failover moves on) while the others wait for the next attempt. Confined to its event loop.
final class UpstreamConnectionSlot {
    private enum State {
        case idle
        case connecting
        case ready(any QueryCarrier)
        case backingOff(until: NIODeadline)
        case shutDown
    }

    private struct Waiter {
        var query: UpstreamQuery
        var promise: EventLoopPromise<UpstreamAnswer>
        /// When it stops waiting for a connection.
        var waitsUntil: NIODeadline
    }

    /// How long a query waits at most for a connection: a reconnect that succeeds within it (an upstream's
    /// restart) loses nothing, and a client whose upstream cannot be reached hears within it.
    static let connectionWaitBound = UpstreamGroup.unreachableBound

    private let eventLoop: any EventLoop
    private let connector: any UpstreamConnector
    private let name: String
    private let maxWaiters: Int
    private let statistics: UpstreamStatistics
    private let isTLS: Bool
    private let logger: Logger
    /// Whether a connection was open before: the next one is a reconnect.
    private var hasConnected = false
    private var state = State.idle
    private var waiters: [Waiter] = []
    private var backoff = ReconnectBackoff()
    private var waitSweepScheduled = false

    init(eventLoop: any EventLoop, connector: any UpstreamConnector, name: String, maxWaiters: Int,
         statistics: UpstreamStatistics, isTLS: Bool, logger: Logger) {
        self.statistics = statistics
        self.isTLS = isTLS
        self.eventLoop = eventLoop
        self.connector = connector
        self.name = name
        self.maxWaiters = maxWaiters
        self.logger = logger
    }

    /// Queries in flight on the current connection.
    var inFlight: Int {
        if case .ready(let multiplexer) = self.state { return multiplexer.inFlight }
        return self.waiters.count
    }

    func send(_ query: UpstreamQuery, promise: EventLoopPromise<UpstreamAnswer>) {
        switch self.state {
        case .ready(let multiplexer) where multiplexer.isOpen:
            multiplexer.send(query, promise: promise)
        case .ready, .idle:
            self.enqueue(query, promise)
            self.connect()
        case .connecting:
            self.enqueue(query, promise)
        case .backingOff(let until):
            if Self.waitLimit(of: query) > until {
                self.enqueue(query, promise)
            } else {
                promise.fail(UpstreamError.backingOff(self.name))
            }
        case .shutDown:
            promise.fail(UpstreamError.shuttingDown(self.name))
        }
    }

    /// Stops taking queries; the connection closes once the queries in flight are answered or expire.
    func shutdown() {
        if case .ready(let multiplexer) = self.state { multiplexer.closeWhenIdle() }
        self.state = .shutDown
        self.failWaiters(UpstreamError.shuttingDown(self.name)) { _ in true }
    }

    private func enqueue(_ query: UpstreamQuery, _ promise: EventLoopPromise<UpstreamAnswer>) {
        guard self.waiters.count < self.maxWaiters else {
            promise.fail(UpstreamError.busy(self.name))
            return
        }
        self.waiters.append(Waiter(query: query, promise: promise, waitsUntil: Self.waitLimit(of: query)))
        self.scheduleWaitSweep()
    }

    private static func waitLimit(of query: UpstreamQuery) -> NIODeadline {
        min(query.deadline, .now() + Self.connectionWaitBound)
    }

    /// Fails the waiters whose wait is over, every 50 ms while any wait.
    private func scheduleWaitSweep() {
        guard !self.waitSweepScheduled else { return }
        self.waitSweepScheduled = true
        self.eventLoop.assumeIsolated().scheduleTask(in: DeadlineSweep.interval) {
            self.waitSweepScheduled = false
            let now = NIODeadline.now()
            self.failWaiters(UpstreamError.connectFailed(self.name, reason: "no connection in time")) {
                $0.waitsUntil <= now
            }
            if !self.waiters.isEmpty { self.scheduleWaitSweep() }
        }
    }

    private func connect() {
        self.state = .connecting
        self.connector.connect(on: self.eventLoop).assumeIsolated().whenComplete { result in
            switch result {
            case .success(let channel):
                self.connected(channel)
            case .failure(let error):
                self.connectFailed(error)
            }
        }
    }

    private func connected(_ channel: any Channel) {
        guard case .connecting = self.state,
            let multiplexer = self.connector.carrier(of: channel)
        else {
            channel.close(promise: nil)
            return
        }
        if self.backoff.succeeded() {
            self.logger.notice("upstream reachable again", metadata: ["upstream": "\(self.name)"])
        }
        self.state = .ready(multiplexer)
        self.statistics.connectionOpened(tls: self.isTLS, isReconnect: self.hasConnected)
        self.hasConnected = true
        channel.closeFuture.assumeIsolated().whenComplete { _ in
            self.statistics.connectionClosed()
            guard case .ready(let current) = self.state, current === multiplexer else { return }
            self.state = .idle
            if !self.waiters.isEmpty { self.connect() }
        }
        let waiting = self.waiters
        self.waiters.removeAll()
        for waiter in waiting { multiplexer.send(waiter.query, promise: waiter.promise) }
    }

    private func connectFailed(_ error: any Error) {
        guard case .connecting = self.state else { return }
        let delay = self.backoff.failed()
        let until = NIODeadline.now() + delay
        self.state = .backingOff(until: until)
        if self.backoff.consecutiveFailures == 1 {
            self.logger.warning("upstream connection failed", metadata: [
                "upstream": "\(self.name)", "error": "\(error)",
            ])
        }
        // A refused or reset connection may be a restart that is over in a moment: queries that can wait for the
        // next attempt do. A TLS failure (a certificate that does not verify) will not mend itself that fast.
        let isTLSFailure = (error as? TLSClientError)?.isHandshakeFailure == true
        let failure = (error as? UpstreamError) ?? (isTLSFailure
            ? UpstreamError.tlsFailed(self.name, reason: "\(error)")
            : UpstreamError.connectFailed(self.name, reason: "\(error)"))
        self.failWaiters(failure) { isTLSFailure || $0.waitsUntil <= until }
        self.eventLoop.assumeIsolated().scheduleTask(deadline: until) {
            guard case .backingOff = self.state else { return }
            self.state = .idle
            if !self.waiters.isEmpty { self.connect() }
        }
    }

    private func failWaiters(_ error: UpstreamError, where shouldFail: (Waiter) -> Bool) {
        var kept: [Waiter] = []
        for waiter in self.waiters {
            if shouldFail(waiter) { waiter.promise.fail(error) } else { kept.append(waiter) }
        }
        self.waiters = kept
    }
}
