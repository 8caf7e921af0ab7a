import Atomics
public import NIOCore
public import DNSCore

/// Several upstreams behind a selection policy, with failover, health and optional hedging.
///
/// A query goes first to the upstream the policy picks among those that are up; on a timeout or failure it moves
/// to the next, for as long as the client's deadline allows. Every attempt but the last gets at most
/// `attemptTimeout`; the last gets what is left. Upstreams that are down come after the others, so when all are
/// down they are still all tried, but then the query gets at most ``unreachableBound`` before the client hears.
/// With hedging on, a query that its upstream has not answered within the group's hedge delay goes to the next
/// upstream as well, and the first answer wins. The delay is the recent high latency (about the 95th percentile) of
/// the fastest upstream that is up, kept within ``hedgeDelayFloor`` and ``hedgeDelayCap``: an upstream that has
/// become slow costs a query that delay, not its own latency, which would follow it up.
public final class UpstreamGroup: Upstream {
    /// How long a query waits at most when every upstream of the group is down: well under the 5 s after which
    /// stub resolvers retry, so a client hears SERVFAIL (or a stale answer) rather than silence.
    public static let unreachableBound = TimeAmount.seconds(2)
    /// The shortest hedge delay: below it a second query costs more than it can save.
    public static let hedgeDelayFloor = TimeAmount.milliseconds(10)
    /// The longest hedge delay, and the delay while no upstream that is up has answered yet.
    public static let hedgeDelayCap = TimeAmount.milliseconds(200)

    public let members: [ResolverUpstream]
    public let policy: SelectionPolicy
    public let attemptTimeout: TimeAmount
    public let hedging: Bool
    private let order: SelectionOrder
    private let ticks = ManagedAtomic<Int>(0)
    private let checker: UpstreamHealthChecker?
    /// Resolves the members' host names; shut down with the group.
    private let bootstrap: BootstrapResolver?

    /// - Parameters:
    ///   - weights: one per member, at least 1 (used by `weighted`); nil means 1 each.
    ///   - healthCheck: active probes of every member, sent from `eventLoop`, or nil for passive health only.
    ///   - bootstrap: the resolver the members' host names go through, to be shut down with the group.
    public init(members: [ResolverUpstream], policy: SelectionPolicy, weights: [Int]? = nil,
                attemptTimeout: TimeAmount, hedging: Bool = false, healthCheck: HealthCheck? = nil,
                bootstrap: BootstrapResolver? = nil, eventLoop: any EventLoop) {
        self.bootstrap = bootstrap
        precondition(!members.isEmpty, "UpstreamGroup needs at least one upstream")
        self.members = members
        self.policy = policy
        self.attemptTimeout = attemptTimeout
        self.hedging = hedging
        self.order = SelectionOrder(policy: policy,
                                    weights: weights ?? Array(repeating: 1, count: members.count))
        self.checker = healthCheck.map {
            UpstreamHealthChecker(upstreams: members, check: $0, timeout: attemptTimeout, eventLoop: eventLoop)
        }
    }

    public var description: String {
        let list = self.members.map(\.description).joined(separator: ", ")
        return self.members.count == 1 ? list : "\(self.policy): \(list)"
    }

    public var resolvers: [ResolverUpstream] { self.members }

    public func send(_ query: UpstreamQuery, on eventLoop: any EventLoop) -> EventLoopFuture<UpstreamAnswer> {
        let now = NIODeadline.now()
        let (ordered, anyAvailable) = self.candidates(at: now)
        var query = query
        if !anyAvailable { query.deadline = min(query.deadline, now + Self.unreachableBound) }
        let plan = Plan(members: ordered, anyAvailable: anyAvailable, hedgeDelay: self.hedging ? self.hedgeDelay() : nil)
        return self.attempt(plan, 0, query, eventLoop)
    }

    /// How one query goes through the group.
    private struct Plan: Sendable {
        /// The members in the order it tries them.
        let members: [ResolverUpstream]
        /// Whether any member was up or due a trial when the query came; if none was, each is tried in turn.
        let anyAvailable: Bool
        /// How long an attempt runs alone before the next one joins it, or nil without hedging.
        let hedgeDelay: TimeAmount?
    }

    /// How long an attempt waits before a hedge: the fastest recent high latency among the members that are up,
    /// within the floor and the cap.
    func hedgeDelay() -> TimeAmount {
        var fastest: TimeAmount?
        for member in self.members where !member.health.isDown {
            if let latency = member.health.recentHighLatency { fastest = min(fastest ?? latency, latency) }
        }
        return max(Self.hedgeDelayFloor, min(fastest ?? Self.hedgeDelayCap, Self.hedgeDelayCap))
    }

    /// The members in the order this query tries them (the policy's order, the available ones first, a down one
    /// whose trial is due among them), and whether any is available.
    func candidates(at now: NIODeadline) -> (members: [ResolverUpstream], anyAvailable: Bool) {
        if self.members.count == 1 {
            return (self.members, self.members[0].health.availability(at: now) != .backingOff)
        }
        let tick = self.ticks.loadThenWrappingIncrement(ordering: .relaxed)
        let indices = self.order.order(tick: tick) { index in
            self.members[index].health.smoothedRoundTrip.map { Int($0.nanoseconds) }
        }
        var available: [ResolverUpstream] = []
        var down: [ResolverUpstream] = []
        available.reserveCapacity(indices.count)
        for index in indices {
            let member = self.members[index]
            if member.health.availability(at: now) != .backingOff {
                available.append(member)
            } else {
                down.append(member)
            }
        }
        return (available + down, !available.isEmpty)
    }

    private func attempt(_ plan: Plan, _ index: Int, _ query: UpstreamQuery,
                         _ eventLoop: any EventLoop) -> EventLoopFuture<UpstreamAnswer> {
        let member = plan.members[index]
        let isLast = index == plan.members.count - 1
        // A down member goes only to the query that takes its trial, while others remain.
        if !isLast, plan.anyAvailable, !member.health.beginTrial(at: .now()) {
            return self.attempt(plan, index + 1, query, eventLoop)
        }
        var attempt = query
        if !isLast { attempt.deadline = min(query.deadline, .now() + self.attemptTimeout) }
        let future = member.send(attempt, on: eventLoop)
        if isLast { return future }
        /// The next attempt, after `error` (or, for a hedge, none yet) ended this one.
        let next = { @Sendable (error: (any Error)?) -> EventLoopFuture<UpstreamAnswer> in
            guard NIODeadline.now() < query.deadline else {
                return eventLoop.makeFailedFuture(error ?? UpstreamError.timeout(member.description))
            }
            return self.attempt(plan, index + 1, query, eventLoop)
        }
        guard let delay = plan.hedgeDelay, delay < self.attemptTimeout else {
            return future.flatMapError { next($0) }
        }
        return HedgedAttempt.race(future, hedgeAfter: delay, next: next, on: eventLoop)
    }

    public func shutdown() async {
        self.checker?.stop()
        for member in self.members { await member.shutdown() }
        await self.bootstrap?.shutdown()
    }
}
