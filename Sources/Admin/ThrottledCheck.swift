public import NIOCore
import Synchronization

/// Runs an expensive check (probing every upstream) at most once per interval, however often its result is asked
/// for: callers within the interval share the last round's result, or wait for the round in progress. Keeps an
/// unauthenticated endpoint (`/readyz`) from turning each request into traffic to the upstreams.
public final class ThrottledCheck: Sendable {
    private let interval: TimeAmount
    private let clock: @Sendable () -> NIODeadline
    private let check: @Sendable () async -> String?
    private let last = Mutex<(started: NIODeadline, round: Task<String?, Never>)?>(nil)

    /// - Parameters:
    ///   - check: the check; its result (nil: passed, else why not) is shared by the callers of one round.
    ///   - clock: monotonic time (`NIODeadline.now` but in tests).
    public init(interval: TimeAmount, clock: @escaping @Sendable () -> NIODeadline = { .now() },
                check: @escaping @Sendable () async -> String?) {
        self.interval = interval
        self.clock = clock
        self.check = check
    }

    /// The result of the round started within the interval, or of a new round.
    public func result() async -> String? {
        let round = self.last.withLock { last -> Task<String?, Never> in
            let now = self.clock()
            if let last, now < last.started + self.interval { return last.round }
            let check = self.check
            let round = Task { await check() }
            last = (now, round)
            return round
        }
        return await round.value
    }
}
