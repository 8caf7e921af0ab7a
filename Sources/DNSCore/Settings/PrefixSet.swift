
/// A few address prefixes that a client address is checked against (access lists, client groups). Lists are short,
/// so a scan beats any tree.
public struct PrefixSet: Sendable, Hashable, CustomStringConvertible {
    public let prefixes: [IPPrefix]

    public init(_ prefixes: [IPPrefix]) {
        self.prefixes = prefixes
    }

    public func contains(_ address: IPAddress) -> Bool {
        self.prefixes.contains { $0.contains(address) }
    }

    public var isEmpty: Bool { self.prefixes.isEmpty }

    public var description: String { self.prefixes.map(\.description).joined(separator: ", ") }

    /// Loopback and the ranges that never route on the Internet: RFC 1918, RFC 6598 (carrier-grade NAT), link-local
    /// and RFC 4193 unique local addresses. What a fresh install answers, so it is never an open resolver.
    public static let privateNetworks = PrefixSet([
        "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16",
        "::1/128", "fc00::/7", "fe80::/10",
    ].compactMap(IPPrefix.init))
}
