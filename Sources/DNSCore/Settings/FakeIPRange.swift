
/// The addresses a fake-IP pool hands out: a prefix without its first and last address (the network and
/// broadcast addresses of an IPv4 range), numbered from 0.
public struct FakeIPRange: Sendable, Hashable, CustomStringConvertible {
    public let prefix: IPPrefix
    /// How many addresses the pool may use (capped for huge IPv6 ranges, which are never exhausted anyway).
    public let capacity: Int

    static let maxCapacity = 1 << 32

    /// Nil when the prefix leaves no usable address.
    public init?(_ prefix: IPPrefix) {
        let hostBits = (prefix.address.isIPv4 ? 32 : 128) - prefix.length
        let size: UInt128 = hostBits >= 127 ? UInt128.max : UInt128(1) << hostBits
        guard size > 2 else { return nil }
        self.prefix = prefix
        self.capacity = Int(min(size - 2, UInt128(Self.maxCapacity)))
    }

    /// The address with number `index` (0 is the prefix's second address).
    public func address(at index: Int) -> IPAddress {
        switch self.prefix.address {
        case .v4(let base): .v4(base &+ UInt32(truncatingIfNeeded: index + 1))
        case .v6(let base): .v6(base &+ UInt128(index + 1))
        }
    }

    /// The number of `address`, or nil when it is not one of the pool's.
    public func index(of address: IPAddress) -> Int? {
        guard self.prefix.contains(address) else { return nil }
        let offset: UInt128
        switch (self.prefix.address, address) {
        case (.v4(let base), .v4(let value)): offset = UInt128(value &- base)
        case (.v6(let base), .v6(let value)): offset = value &- base
        default: return nil
        }
        guard offset >= 1, offset <= UInt128(self.capacity) else { return nil }
        return Int(offset - 1)
    }

    public var description: String { self.prefix.description }
}
