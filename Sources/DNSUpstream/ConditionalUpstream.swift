public import DNSWire
public import NIOCore

/// Conditional forwarding: a query for a name at or below a configured domain goes to that domain's upstreams
/// (the longest matching domain wins, ignoring case), every other query to the default.
public final class ConditionalUpstream: Upstream {
    public let rules: [DNSName: any Upstream]
    public let fallback: any Upstream

    public init(rules: [DNSName: any Upstream], fallback: any Upstream) {
        self.rules = rules
        self.fallback = fallback
    }

    /// The upstream queries for `name` go to.
    public func upstream(for name: DNSName) -> any Upstream {
        var candidate: DNSName? = name
        while let suffix = candidate {
            if let upstream = self.rules[suffix] { return upstream }
            candidate = suffix.parent
        }
        return self.fallback
    }

    public func send(_ query: UpstreamQuery, on eventLoop: any EventLoop) -> EventLoopFuture<UpstreamAnswer> {
        self.upstream(for: query.question.name).send(query, on: eventLoop)
    }

    public var description: String {
        ([self.fallback.description] + self.rules.sorted { $0.key.description < $1.key.description }.map {
            "\($0.key) → \($0.value)"
        }).joined(separator: "; ")
    }

    public var resolvers: [ResolverUpstream] {
        self.fallback.resolvers + self.rules.sorted { $0.key.description < $1.key.description }.flatMap(\.value.resolvers)
    }

    public func shutdown() async {
        await self.fallback.shutdown()
        for upstream in self.rules.values { await upstream.shutdown() }
    }
}
