import Atomics
public import DNSCore
public import NIOCore

/// What one upstream did, for the metrics endpoint and the admin API: relaxed atomic counters, written on the event
/// loops and read by a scrape.
public final class UpstreamStatistics: Sendable {
    /// Why a query to the upstream failed.
    public enum FailureKind: String, Sendable, CaseIterable {
        /// No answer before the deadline.
        case timeout
        /// The connection could not be opened, closed with the query in flight, or is backing off after failures.
        case connection
        /// The TLS handshake or the certificate check failed.
        case tls
        /// An answer that matched no query in flight, or was not a DNS response.
        case badReply = "bad_reply"
        /// The server reset the query's HTTP/2 stream (it still answers others): asked again, not held against it.
        case streamReset = "stream_reset"
        /// dnsgate refused to send it: too many queries in flight, or shutting down.
        case refused

        /// Whether a failure of this kind counts against the upstream's health.
        var saysUpstreamIsUnwell: Bool { self == .timeout || self == .connection || self == .tls }
    }

    /// The upstream as configured (`tls://9.9.9.9:853#dns.quad9.net`): the metric label.
    public let name: String
    private let queries = ManagedAtomic<Int>(0)
    private let failures: [ManagedAtomic<Int>] = FailureKind.allCases.map { _ in ManagedAtomic(0) }
    private let inFlight = ManagedAtomic<Int>(0)
    private let openConnections = ManagedAtomic<Int>(0)
    private let tlsHandshakes = ManagedAtomic<Int>(0)
    private let reconnects = ManagedAtomic<Int>(0)
    private let resumedSessions = ManagedAtomic<Int>(0)
    private let consecutiveFailures = ManagedAtomic<Int>(0)
    private let answered = ManagedAtomic<Int>(0)
    /// When the last answer arrived (monotonic nanoseconds), 0 before the first.
    private let lastAnswer = ManagedAtomic<Int>(0)
    /// Round trips of answered queries.
    public let latency = LatencyHistogram()

    public init(name: String) {
        self.name = name
    }

    /// A query leaves for the upstream; ``finished(startedAt:failure:)`` follows when it ends.
    func started() {
        self.queries.wrappingIncrement(ordering: .relaxed)
        self.inFlight.wrappingIncrement(ordering: .relaxed)
    }

    /// A query ended: answered (`failure` nil) or failed. Returns how long it took.
    @discardableResult
    func finished(startedAt start: NIODeadline, failure: FailureKind?) -> TimeAmount {
        self.inFlight.wrappingDecrement(ordering: .relaxed)
        let now = NIODeadline.now()
        if let failure {
            self.failed(failure)
        } else {
            self.answered.wrappingIncrement(ordering: .relaxed)
            self.consecutiveFailures.store(0, ordering: .relaxed)
            self.lastAnswer.store(Int(now.uptimeNanoseconds), ordering: .relaxed)
            self.latency.record(now - start)
        }
        return now - start
    }

    /// A failure outside a query (a bad reply, a failed probe).
    func failed(_ kind: FailureKind) {
        self.failures[FailureKind.allCases.firstIndex(of: kind) ?? 0].wrappingIncrement(ordering: .relaxed)
        if kind.saysUpstreamIsUnwell { self.consecutiveFailures.wrappingIncrement(ordering: .relaxed) }
    }

    func connectionOpened(tls: Bool, isReconnect: Bool) {
        self.openConnections.wrappingIncrement(ordering: .relaxed)
        if tls { self.tlsHandshakes.wrappingIncrement(ordering: .relaxed) }
        if isReconnect { self.reconnects.wrappingIncrement(ordering: .relaxed) }
    }

    /// A TLS handshake resumed an earlier session.
    func tlsSessionResumed() {
        self.resumedSessions.wrappingIncrement(ordering: .relaxed)
    }

    func connectionClosed() {
        self.openConnections.wrappingDecrement(ordering: .relaxed)
    }

    /// Whether an answer arrived within `window` of now.
    public func answered(within window: TimeAmount) -> Bool {
        let last = self.lastAnswer.load(ordering: .relaxed)
        return last > 0 && Int64(NIODeadline.now().uptimeNanoseconds) - Int64(last) <= window.nanoseconds
    }

    /// The counters now.
    public struct Snapshot: Sendable, Hashable {
        public var queries: Int
        public var answered: Int
        public var failures: [FailureKind: Int]
        public var inFlight: Int
        public var openConnections: Int
        public var tlsHandshakes: Int
        /// Of those, the ones that resumed an earlier session.
        public var tlsResumedSessions: Int
        public var reconnects: Int
        /// Failures since the last answer: 0 while the upstream answers.
        public var consecutiveFailures: Int
    }

    public var snapshot: Snapshot {
        Snapshot(
            queries: self.queries.load(ordering: .relaxed), answered: self.answered.load(ordering: .relaxed),
            failures: Dictionary(uniqueKeysWithValues: zip(FailureKind.allCases,
                                                           self.failures.map { $0.load(ordering: .relaxed) })),
            inFlight: self.inFlight.load(ordering: .relaxed),
            openConnections: self.openConnections.load(ordering: .relaxed),
            tlsHandshakes: self.tlsHandshakes.load(ordering: .relaxed),
            tlsResumedSessions: self.resumedSessions.load(ordering: .relaxed),
            reconnects: self.reconnects.load(ordering: .relaxed),
            consecutiveFailures: self.consecutiveFailures.load(ordering: .relaxed))
    }
}
