import Atomics
public import Logging
public import NIOCore
public import DNSCore

/// Whether one upstream is fit for client traffic, and how fast it answers. Fed by every query's outcome
/// (passive) and by probes (active). After `failureThreshold` failures in a row (timeouts, connection or TLS
/// failures) the upstream is down: it gets no client traffic for a back-off that starts at `initialBackoff` and
/// doubles with every failure after it up to `maximumBackoff`; once the back-off is over one query at a time is let
/// through as a trial (the others keep going elsewhere), and one answer, a trial's or a probe's, brings it back.
/// A trial is taken only by the query that is really sent to it, and lapses after ``trialLease`` should its outcome
/// never be reported, so a recovered upstream is never left waiting for a trial that did not happen.
/// State changes are logged once, not per query. Relaxed atomics: written on every event loop, read by the
/// selection policies and the metrics. The clock is injected, so that tests step time instead of sleeping.
public final class UpstreamHealth: Sendable {
    /// Where an upstream stands for the next query.
    public enum Availability: Sendable, Hashable {
        /// Up: it takes any query.
        case up
        /// Down, its back-off over: the next query sent to it is a trial (``beginTrial(at:)``).
        case trialDue
        /// Down and left alone for now.
        case backingOff
    }

    /// How long a trial query holds the one trial slot at most.
    public static let trialLease = TimeAmount.seconds(2)

    /// When an upstream counts as down and how long it is left alone.
    public typealias Settings = UpstreamHealthSettings

    public let settings: Settings
    private let name: String
    private let logger: Logger
    private let clock: @Sendable () -> NIODeadline
    private let consecutiveFailures = ManagedAtomic<Int>(0)
    /// While down: until when (monotonic nanoseconds) it gets no client traffic. 0 while up.
    private let downUntil = ManagedAtomic<Int>(0)
    /// Back-offs in a row, for the doubling.
    private let backoffs = ManagedAtomic<Int>(0)
    /// Until when (monotonic nanoseconds) the trial query out to a down upstream holds the trial slot; 0: none.
    private let trialUntil = ManagedAtomic<Int>(0)
    /// Smoothed round trip and its mean deviation in nanoseconds (RFC 6298's estimator); 0 before the first answer.
    private let smoothedRTT = ManagedAtomic<Int>(0)
    private let rttVariation = ManagedAtomic<Int>(0)

    /// - Parameter clock: the monotonic time failures are stamped with (`NIODeadline.now` but in tests).
    public init(name: String, settings: Settings = Settings(), logger: Logger,
                clock: @escaping @Sendable () -> NIODeadline = { .now() }) {
        self.name = name
        self.settings = settings
        self.logger = logger
        self.clock = clock
    }

    /// Whether the upstream is down (it failed `failureThreshold` times in a row and has not answered since).
    public var isDown: Bool { self.downUntil.load(ordering: .relaxed) != 0 }

    /// Where it stands at `now`; asking changes nothing.
    public func availability(at now: NIODeadline) -> Availability {
        let until = self.downUntil.load(ordering: .relaxed)
        if until == 0 { return .up }
        let nanoseconds = Int(now.uptimeNanoseconds)
        guard nanoseconds >= until, self.trialUntil.load(ordering: .relaxed) <= nanoseconds else { return .backingOff }
        return .trialDue
    }

    /// Whether a query about to be sent at `now` may go: true when it is up, or when it takes the trial slot of a
    /// down upstream whose back-off is over; false while it backs off or another trial holds the slot.
    public func beginTrial(at now: NIODeadline) -> Bool {
        let until = self.downUntil.load(ordering: .relaxed)
        if until == 0 { return true }
        let nanoseconds = Int(now.uptimeNanoseconds)
        guard nanoseconds >= until else { return false }
        let held = self.trialUntil.load(ordering: .relaxed)
        guard held <= nanoseconds else { return false }
        return self.trialUntil.compareExchange(expected: held, desired: nanoseconds + Int(Self.trialLease.nanoseconds),
                                               ordering: .relaxed).exchanged
    }

    /// The smoothed round trip of its recent answers, or nil before the first.
    public var smoothedRoundTrip: TimeAmount? {
        let value = self.smoothedRTT.load(ordering: .relaxed)
        return value == 0 ? nil : .nanoseconds(Int64(value))
    }

    /// A high percentile of its recent round trips (about the 95th): the smoothed round trip plus twice its mean
    /// deviation. Nil before the first answer.
    public var recentHighLatency: TimeAmount? {
        let value = self.smoothedRTT.load(ordering: .relaxed)
        guard value > 0 else { return nil }
        return .nanoseconds(Int64(value + 2 * self.rttVariation.load(ordering: .relaxed)))
    }

    /// An answer arrived after `roundTrip`.
    public func succeeded(roundTrip: TimeAmount) {
        self.consecutiveFailures.store(0, ordering: .relaxed)
        self.backoffs.store(0, ordering: .relaxed)
        self.recordRoundTrip(Int(roundTrip.nanoseconds))
        self.trialUntil.store(0, ordering: .relaxed)
        if self.downUntil.load(ordering: .relaxed) != 0, self.downUntil.exchange(0, ordering: .relaxed) != 0 {
            self.logger.notice("upstream is up again", metadata: ["upstream": "\(self.name)"])
        }
    }

    /// A query or probe failed in a way that says something about the upstream (not a local refusal).
    public func failed(error: any Error) {
        let failures = self.consecutiveFailures.wrappingIncrementThenLoad(ordering: .relaxed)
        guard failures >= self.settings.failureThreshold else { return }
        defer { self.trialUntil.store(0, ordering: .relaxed) }
        let now = Int(self.clock().uptimeNanoseconds)
        let current = self.downUntil.load(ordering: .relaxed)
        // Still inside a back-off: failures of queries sent before it began change nothing.
        guard current <= now else { return }
        let exponent = min(self.backoffs.loadThenWrappingIncrement(ordering: .relaxed), 16)
        let backoff = min(self.settings.initialBackoff * (1 << exponent), self.settings.maximumBackoff)
        let (exchanged, _) = self.downUntil.compareExchange(expected: current, desired: now + Int(backoff.nanoseconds),
                                                            ordering: .relaxed)
        if exchanged, current == 0 {
            self.logger.warning("upstream is down", metadata: [
                "upstream": "\(self.name)", "failures": "\(failures)", "error": "\(error)",
            ])
        }
    }

    private func recordRoundTrip(_ sample: Int) {
        let smoothed = self.smoothedRTT.load(ordering: .relaxed)
        guard smoothed > 0 else {
            self.smoothedRTT.store(max(sample, 1), ordering: .relaxed)
            self.rttVariation.store(sample / 2, ordering: .relaxed)
            return
        }
        let variation = self.rttVariation.load(ordering: .relaxed)
        self.rttVariation.store(variation - variation / 4 + abs(smoothed - sample) / 4, ordering: .relaxed)
        self.smoothedRTT.store(max(smoothed - smoothed / 8 + sample / 8, 1), ordering: .relaxed)
    }
}
