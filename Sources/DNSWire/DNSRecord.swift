/// A resource record with its RDATA as uncompressed bytes.
public struct DNSRecord: Hashable, Sendable {
    public var name: DNSName
    public var type: DNSType
    /// The CLASS field; for OPT this is the UDP payload size, so it is kept as a raw value.
    public var rrclass: DNSClass
    /// The TTL field; for OPT this carries the extended RCODE, version and flags.
    public var ttl: UInt32
    public var rdata: [UInt8]

    public init(name: DNSName, type: DNSType, rrclass: DNSClass = .in, ttl: UInt32, rdata: [UInt8]) {
        self.name = name
        self.type = type
        self.rrclass = rrclass
        self.ttl = ttl
        self.rdata = rdata
    }

    /// An A record.
    public static func a(_ name: DNSName, _ address: (UInt8, UInt8, UInt8, UInt8), ttl: UInt32) -> DNSRecord {
        DNSRecord(name: name, type: .a, ttl: ttl, rdata: [address.0, address.1, address.2, address.3])
    }

    /// A TXT record of the given character strings (each at most 255 bytes).
    public static func txt(_ name: DNSName, _ strings: [String], ttl: UInt32) -> DNSRecord {
        var rdata: [UInt8] = []
        for string in strings {
            let bytes = Array(string.utf8.prefix(255))
            rdata.append(UInt8(bytes.count))
            rdata.append(contentsOf: bytes)
        }
        return DNSRecord(name: name, type: .txt, ttl: ttl, rdata: rdata)
    }

    /// An EDNS(0) OPT record.
    public static func opt(udpPayloadSize: UInt16, dnssecOK: Bool = false, options: [UInt8] = []) -> DNSRecord {
        DNSRecord(name: .root, type: .opt, rrclass: DNSClass(udpPayloadSize), ttl: dnssecOK ? 0x8000 : 0,
                  rdata: options)
    }
}

extension DNSRecord {
    /// The RDATA of the record at `slot`, with the names inside the types that RFC 1035/3597 allow to be
    /// compressed (NS, CNAME, PTR, MX, SOA) written out in full so the bytes stand on their own.
    static func uncompressedRDATA(reader: WireReader, type: DNSType, offset: Int, length: Int) throws(DNSWireError)
        -> [UInt8]
    {
        let end = offset + length
        func raw(_ from: Int, _ to: Int) -> [UInt8] { Array(reader.bytes[from..<to]) }
        func name(at position: Int) throws(DNSWireError) -> (DNSName, Int) {
            let (name, nameEnd) = try reader.readName(at: position)
            guard nameEnd <= end else { throw .truncated(at: position) }
            return (name, nameEnd)
        }
        switch type {
        case .ns, .cname, .ptr:
            let (target, nameEnd) = try name(at: offset)
            guard nameEnd == end else { throw .truncated(at: offset) }
            return target.wire
        case .mx:
            guard length >= 3 else { throw .truncated(at: offset) }
            let (exchange, nameEnd) = try name(at: offset + 2)
            guard nameEnd == end else { throw .truncated(at: offset) }
            return raw(offset, offset + 2) + exchange.wire
        case .soa:
            let (mname, mnameEnd) = try name(at: offset)
            let (rname, rnameEnd) = try name(at: mnameEnd)
            guard rnameEnd + 20 == end else { throw .truncated(at: rnameEnd) }
            return mname.wire + rname.wire + raw(rnameEnd, end)
        default:
            return raw(offset, end)
        }
    }
}
