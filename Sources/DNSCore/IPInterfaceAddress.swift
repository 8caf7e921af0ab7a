/// An interface's own address with the prefix it sits in (`100.90.128.2/24`, `fdf6:ae92:c3:1::2/64`): unlike an
/// ``IPPrefix`` it keeps the host bits. Given to an interface, it makes the kernel route the whole prefix into it.
public struct IPInterfaceAddress: Hashable, Sendable, CustomStringConvertible {
    /// The interface's own address.
    public let address: IPAddress
    /// The prefix the address sits in; a host prefix (/32, /128) for a bare address.
    public let prefix: IPPrefix

    /// Parses `address/length`, or a bare address as a host prefix (/32 or /128).
    public init?(_ text: String) {
        guard let prefix = IPPrefix(text), let address = IPAddress(String(text.prefix { $0 != "/" })) else {
            return nil
        }
        self.address = address
        self.prefix = prefix
    }

    /// `address/length`, as `ip addr` takes it.
    public var description: String { "\(self.address)/\(self.prefix.length)" }
}
