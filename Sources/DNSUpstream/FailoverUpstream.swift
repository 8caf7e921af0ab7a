public import NIOCore

/// Ordered failover: a query goes to the first upstream, and on failure or timeout to the next, for as long as the
/// client's deadline allows. Every upstream but the last gets at most `attemptTimeout`; the last gets what is left.
public struct FailoverUpstream: Upstream {
    public let upstreams: [any Upstream]
    public let attemptTimeout: TimeAmount

    public init(upstreams: [any Upstream], attemptTimeout: TimeAmount) {
        precondition(!upstreams.isEmpty, "FailoverUpstream needs at least one upstream")
        self.upstreams = upstreams
        self.attemptTimeout = attemptTimeout
    }

    public var description: String { self.upstreams.map(\.description).joined(separator: ", ") }

    public var resolvers: [ResolverUpstream] { self.upstreams.flatMap(\.resolvers) }

    public func send(_ query: UpstreamQuery, on eventLoop: any EventLoop) -> EventLoopFuture<UpstreamAnswer> {
        self.attempt(0, query, eventLoop)
    }

    private func attempt(_ index: Int, _ query: UpstreamQuery, _ eventLoop: any EventLoop)
        -> EventLoopFuture<UpstreamAnswer>
    {
        let isLast = index == self.upstreams.count - 1
        var attempt = query
        if !isLast { attempt.deadline = min(query.deadline, .now() + self.attemptTimeout) }
        let future = self.upstreams[index].send(attempt, on: eventLoop)
        if isLast { return future }
        return future.flatMapError { error in
            guard NIODeadline.now() < query.deadline else { return eventLoop.makeFailedFuture(error) }
            return self.attempt(index + 1, query, eventLoop)
        }
    }

    public func shutdown() async {
        for upstream in self.upstreams { await upstream.shutdown() }
    }
}
