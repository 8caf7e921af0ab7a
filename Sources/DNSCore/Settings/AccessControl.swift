
/// Which clients may query: a client in `deny` is refused, then one in `allow` is served, and everyone else is
/// refused. Queries without a client address (dnsgate's own lookups) are always served.
public struct AccessControl: Sendable, Hashable {
    /// What a refused client gets.
    public enum Refusal: String, Sendable, Hashable, CaseIterable {
        /// A REFUSED answer with Extended DNS Error 18 (Prohibited).
        case refuse
        /// Nothing: the datagram is dropped, the connection closed.
        case drop
    }

    public var allow: PrefixSet
    public var deny: PrefixSet
    public var refusal: Refusal

    /// The default lets loopback and private networks in (``PrefixSet/privateNetworks``).
    public init(allow: PrefixSet = .privateNetworks, deny: PrefixSet = PrefixSet([]), refusal: Refusal = .refuse) {
        self.allow = allow
        self.deny = deny
        self.refusal = refusal
    }

    /// Whether `client` may query.
    public func permits(_ client: IPAddress?) -> Bool {
        guard let client else { return true }
        return !self.deny.contains(client) && self.allow.contains(client)
    }
}
