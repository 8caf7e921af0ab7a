/// What a blocked query gets.
public enum BlockingAnswer: String, Sendable, Hashable, CaseIterable {
    /// NXDOMAIN: the name does not exist.
    case nxdomain
    /// REFUSED.
    case refused
    /// `0.0.0.0` to A queries and `::` to AAAA queries (an empty answer to other types), with ``nullTTL``.
    case null
}
