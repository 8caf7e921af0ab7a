public import DNSCore

/// Why a packet was not handled; each reason has its own drop counter.
public enum PacketDropReason: String, Error, Sendable, CaseIterable {
    case malformed
    case badChecksum = "bad_checksum"
    case unsupported
    case fragmentTable = "fragment_table"
    case notAQuery = "not_a_query"
    case tcpLimit = "tcp_limit"
    case writeFailed = "write_failed"
}

/// The parts of an IPv4 or IPv6 packet the responder needs: addresses, the upper-layer protocol and where its
/// bytes are, and fragment information. IPv4 options and IPv6 extension headers (hop-by-hop, routing,
/// destination options) are skipped; the IPv4 header checksum is verified.
public struct IPPacket: Sendable {
    public struct Fragment: Sendable, Hashable {
        public var identification: UInt32
        /// Offset of this fragment's data in the original payload, in bytes.
        public var offset: Int
        public var moreFragments: Bool
    }

    public static let udp: UInt8 = 17
    public static let tcp: UInt8 = 6
    public static let icmp: UInt8 = 1
    public static let icmpv6: UInt8 = 58

    public var source: IPAddress
    public var destination: IPAddress
    /// The upper-layer protocol (after any IPv6 extension headers).
    public var nextProtocol: UInt8
    public var hopLimit: UInt8
    /// Where the upper-layer bytes (or this fragment's share of them) start and how many there are.
    public var payloadOffset: Int
    public var payloadLength: Int
    public var fragment: Fragment?

    public var isIPv4: Bool { self.source.isIPv4 }

    /// The destination address only, for the filter's fast path: no checks beyond the length, no allocation.
    public static func destination(in bytes: UnsafeRawBufferPointer) -> IPAddress? {
        guard let first = bytes.first else { return nil }
        switch first >> 4 {
        case 4 where bytes.count >= 20: return IPAddress.load(bytes, at: 16, length: 4)
        case 6 where bytes.count >= 40: return IPAddress.load(bytes, at: 24, length: 16)
        default: return nil
        }
    }

    /// Parses the IP layer of `bytes`; throws the reason to drop it.
    public init(_ bytes: UnsafeRawBufferPointer) throws(PacketDropReason) {
        guard let first = bytes.first else { throw .malformed }
        switch first >> 4 {
        case 4: try self.init(ipv4: bytes)
        case 6: try self.init(ipv6: bytes)
        default: throw .unsupported
        }
    }

    private init(ipv4 bytes: UnsafeRawBufferPointer) throws(PacketDropReason) {
        let headerLength = Int(bytes[0] & 0x0F) * 4
        guard headerLength >= 20, bytes.count >= headerLength else { throw .malformed }
        let totalLength = Int(bytes[2]) << 8 | Int(bytes[3])
        guard totalLength >= headerLength, totalLength <= bytes.count else { throw .malformed }
        var checksum = InternetChecksum()
        checksum.add(UnsafeRawBufferPointer(rebasing: bytes[0..<headerLength]))
        guard checksum.value == 0 else { throw .badChecksum }
        self.source = IPAddress.load(bytes, at: 12, length: 4)
        self.destination = IPAddress.load(bytes, at: 16, length: 4)
        self.nextProtocol = bytes[9]
        self.hopLimit = bytes[8]
        self.payloadOffset = headerLength
        self.payloadLength = totalLength - headerLength
        let flagsAndOffset = Int(bytes[6]) << 8 | Int(bytes[7])
        let offset = (flagsAndOffset & 0x1FFF) * 8
        let moreFragments = flagsAndOffset & 0x2000 != 0
        if offset != 0 || moreFragments {
            self.fragment = Fragment(identification: UInt32(bytes[4]) << 8 | UInt32(bytes[5]), offset: offset,
                                     moreFragments: moreFragments)
        }
    }

    private init(ipv6 bytes: UnsafeRawBufferPointer) throws(PacketDropReason) {
        guard bytes.count >= 40 else { throw .malformed }
        let payloadLength = Int(bytes[4]) << 8 | Int(bytes[5])
        // A zero payload length means a jumbogram (RFC 2675), which a TUN device never carries.
        guard payloadLength > 0, 40 + payloadLength <= bytes.count else { throw .malformed }
        self.source = IPAddress.load(bytes, at: 8, length: 16)
        self.destination = IPAddress.load(bytes, at: 24, length: 16)
        self.hopLimit = bytes[7]
        let end = 40 + payloadLength
        var next = bytes[6]
        var offset = 40
        var fragment: Fragment?
        headers: while true {
            switch next {
            case 0, 43, 60:  // hop-by-hop, routing, destination options
                guard offset + 8 <= end else { throw .malformed }
                let length = (Int(bytes[offset + 1]) + 1) * 8
                guard offset + length <= end else { throw .malformed }
                next = bytes[offset]
                offset += length
            case 44:  // fragment
                guard offset + 8 <= end, fragment == nil else { throw .malformed }
                let offsetAndFlag = Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
                fragment = Fragment(
                    identification: UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)),
                    offset: offsetAndFlag & ~7, moreFragments: offsetAndFlag & 1 != 0)
                next = bytes[offset]
                offset += 8
            default:
                break headers
            }
        }
        self.nextProtocol = next
        self.payloadOffset = offset
        self.payloadLength = end - offset
        self.fragment = fragment
    }
}
