import DNSCore

/// The Internet checksum (RFC 1071): the ones' complement of the ones' complement sum of 16-bit words, with the
/// IPv4/IPv6 pseudo-header for UDP, TCP and ICMPv6 (RFC 768, RFC 8200 §8.1).
struct InternetChecksum {
    private var sum: UInt64 = 0

    init() {}

    /// Adds `bytes` as big-endian 16-bit words; an odd last byte is padded with zero. Only the last piece added
    /// may have an odd length.
    mutating func add(_ bytes: UnsafeRawBufferPointer) {
        var index = 0
        let count = bytes.count
        while index + 1 < count {
            self.sum &+= UInt64(bytes[index]) << 8 | UInt64(bytes[index + 1])
            index += 2
        }
        if index < count { self.sum &+= UInt64(bytes[index]) << 8 }
    }

    mutating func add(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { self.add($0) }
    }

    mutating func add(_ word: UInt16) {
        self.sum &+= UInt64(word)
    }

    mutating func add(_ value: UInt32) {
        self.sum &+= UInt64(value >> 16) &+ UInt64(value & 0xFFFF)
    }

    /// Adds the pseudo-header: both addresses, the upper-layer protocol and its length.
    mutating func addPseudoHeader(source: IPAddress, destination: IPAddress, protocol: UInt8, length: Int) {
        for address in [source, destination] {
            switch address {
            case .v4(let value):
                self.add(value)
            case .v6(let value):
                for shift in stride(from: 96, through: 0, by: -32) { self.add(UInt32(truncatingIfNeeded: value >> shift)) }
            }
        }
        self.add(UInt32(length))
        self.add(UInt16(`protocol`))
    }

    /// The checksum to write into a header.
    var value: UInt16 {
        var folded = self.sum
        while folded >> 16 != 0 { folded = (folded & 0xFFFF) + (folded >> 16) }
        return ~UInt16(folded)
    }
}
