#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address as the packet path and the fake-IP pool use it: plain integers, no allocation.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    case v4(UInt32)
    case v6(UInt128)

    /// Parses dotted-quad IPv4 or RFC 5952 IPv6 text; nil when it is neither.
    public init?(_ text: String) {
        var bytes = [UInt8](repeating: 0, count: 16)
        if inet_pton(AF_INET, text, &bytes) == 1 {
            self = bytes.withUnsafeBytes { Self.load($0, at: 0, length: 4) }
        } else if inet_pton(AF_INET6, text, &bytes) == 1 {
            self = bytes.withUnsafeBytes { Self.load($0, at: 0, length: 16) }
        } else {
            return nil
        }
    }

    /// Reads an address of `length` bytes (4 or 16) at `offset` of `bytes`, network order; `bytes` must hold them.
    public static func load(_ bytes: UnsafeRawBufferPointer, at offset: Int, length: Int) -> IPAddress {
        if length == 4 { return .v4(UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))) }
        return .v6(Self.loadV6(bytes, at: offset))
    }

    private static func loadV6(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt128 {
        let high = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        let low = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self))
        return UInt128(high) << 64 | UInt128(low)
    }

    /// The address in network byte order.
    public var bytes: [UInt8] {
        switch self {
        case .v4(let value): (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) }
        case .v6(let value): (0..<16).map { UInt8(truncatingIfNeeded: value >> (120 - 8 * $0)) }
        }
    }

    public var isIPv4: Bool {
        if case .v4 = self { return true }
        return false
    }

    public var description: String {
        var text = [CChar](repeating: 0, count: 64)
        let family = self.isIPv4 ? AF_INET : AF_INET6
        let bytes = self.bytes
        _ = bytes.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &text, socklen_t(text.count)) }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// An address prefix (`192.0.2.0/24`, `2001:db8::/32`).
public struct IPPrefix: Hashable, Sendable, CustomStringConvertible {
    public let address: IPAddress
    public let length: Int

    /// - Parameter length: the prefix length; addresses are masked to it.
    public init?(_ address: IPAddress, length: Int) {
        switch address {
        case .v4(let value):
            guard (0...32).contains(length) else { return nil }
            self.address = .v4(length == 0 ? 0 : value & ~UInt32(0) << (32 - length))
        case .v6(let value):
            guard (0...128).contains(length) else { return nil }
            self.address = .v6(length == 0 ? 0 : value & ~UInt128(0) << (128 - length))
        }
        self.length = length
    }

    /// The prefix of exactly `address` (/32 or /128).
    public static func host(_ address: IPAddress) -> IPPrefix {
        switch address {
        case .v4: IPPrefix(uncheckedAddress: address, length: 32)
        case .v6: IPPrefix(uncheckedAddress: address, length: 128)
        }
    }

    private init(uncheckedAddress address: IPAddress, length: Int) {
        self.address = address
        self.length = length
    }

    /// Parses `address/length`, or a bare address as a host prefix.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1)
        guard let first = parts.first, let address = IPAddress(String(first)) else { return nil }
        let hostLength = address.isIPv4 ? 32 : 128
        guard let length = parts.count == 2 ? Int(parts[1]) : hostLength else { return nil }
        self.init(address, length: length)
    }

    public func contains(_ candidate: IPAddress) -> Bool {
        switch (self.address, candidate) {
        case (.v4(let prefix), .v4(let value)):
            return self.length == 0 || prefix == value & ~UInt32(0) << (32 - self.length)
        case (.v6(let prefix), .v6(let value)):
            return self.length == 0 || prefix == value & ~UInt128(0) << (128 - self.length)
        default:
            return false
        }
    }

    public var description: String { "\(self.address)/\(self.length)" }
}
