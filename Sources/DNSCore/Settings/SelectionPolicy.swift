/// How a group of upstreams picks the upstream a query goes to first. The others follow in order if it fails, and
/// upstreams that are down come last.
public enum SelectionPolicy: String, Sendable, CaseIterable, CustomStringConvertible {
    /// The first upstream that is up, in the configured order.
    case sequential
    /// Each query starts at the next upstream in turn.
    case roundRobin = "round_robin"
    /// Each query starts at an upstream picked at random.
    case random
    /// Like round robin, in proportion to each upstream's weight.
    case weighted
    /// The upstream with the lowest smoothed round trip; every ``fastestExplorationInterval``-th query goes to
    /// another one, so that one that became faster (or recovered) is noticed.
    case fastest

    /// One query in this many goes to an upstream other than the fastest.
    public static let fastestExplorationInterval = 32

    public var description: String { self.rawValue }
}
