/// A resource record type. Open: values without a name round-trip unchanged.
public struct DNSType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    public static let a = DNSType(1)
    public static let ns = DNSType(2)
    public static let cname = DNSType(5)
    public static let soa = DNSType(6)
    public static let ptr = DNSType(12)
    public static let mx = DNSType(15)
    public static let txt = DNSType(16)
    public static let aaaa = DNSType(28)
    public static let srv = DNSType(33)
    public static let opt = DNSType(41)
    public static let dname = DNSType(39)
    public static let ds = DNSType(43)
    public static let rrsig = DNSType(46)
    public static let nsec = DNSType(47)
    public static let dnskey = DNSType(48)
    public static let nsec3 = DNSType(50)
    public static let nsec3param = DNSType(51)
    public static let https = DNSType(65)
    public static let hinfo = DNSType(13)
    public static let any = DNSType(255)

    private static let names: [UInt16: String] = [
        1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 13: "HINFO", 15: "MX", 16: "TXT", 28: "AAAA", 33: "SRV", 39: "DNAME", 41: "OPT",
        43: "DS", 46: "RRSIG", 47: "NSEC", 48: "DNSKEY", 50: "NSEC3", 51: "NSEC3PARAM", 65: "HTTPS", 255: "ANY",
    ]

    /// The mnemonic, or `TYPEnnn` (RFC 3597) for a type without one.
    public var description: String { Self.names[self.rawValue] ?? "TYPE\(self.rawValue)" }

    /// Parses a mnemonic (`AAAA`, any case) or `TYPEnnn`.
    public init?(mnemonic: String) {
        let upper = mnemonic.uppercased()
        if let known = Self.names.first(where: { $0.value == upper }) {
            self.init(known.key)
        } else if upper.hasPrefix("TYPE"), let value = UInt16(upper.dropFirst(4)) {
            self.init(value)
        } else {
            return nil
        }
    }
}

/// A resource record class. Open: unknown values round-trip unchanged.
public struct DNSClass: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    public static let `in` = DNSClass(1)
    public static let chaos = DNSClass(3)
    public static let any = DNSClass(255)

    /// The mnemonic, or `CLASSnnn` (RFC 3597).
    public var description: String {
        switch self.rawValue {
        case 1: return "IN"
        case 3: return "CH"
        case 255: return "ANY"
        default: return "CLASS\(self.rawValue)"
        }
    }
}

/// A response code, including the extended codes that EDNS(0) carries in the OPT record (12 bits in all).
public struct DNSRCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    public static let noError = DNSRCode(0)
    public static let formErr = DNSRCode(1)
    public static let servFail = DNSRCode(2)
    public static let nxDomain = DNSRCode(3)
    public static let notImp = DNSRCode(4)
    public static let refused = DNSRCode(5)
    public static let badVers = DNSRCode(16)

    private static let names: [UInt16: String] = [
        0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED", 16: "BADVERS",
    ]

    public var description: String { Self.names[self.rawValue] ?? "RCODE\(self.rawValue)" }
}

/// A header opcode (4 bits). Open: unknown values round-trip unchanged.
public struct DNSOpcode: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue & 0x0F }

    public static let query = DNSOpcode(rawValue: 0)
    public static let notify = DNSOpcode(rawValue: 4)
    public static let update = DNSOpcode(rawValue: 5)
}

/// Extended DNS Error info codes (RFC 8914) that dnsgate sends.
public struct DNSExtendedErrorCode: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let other = DNSExtendedErrorCode(rawValue: 0)
    public static let staleAnswer = DNSExtendedErrorCode(rawValue: 3)
    /// DNSSEC validation: the answer failed validation for a reason none of the codes below names.
    public static let dnssecBogus = DNSExtendedErrorCode(rawValue: 6)
    public static let signatureExpired = DNSExtendedErrorCode(rawValue: 7)
    public static let signatureNotYetValid = DNSExtendedErrorCode(rawValue: 8)
    public static let dnskeyMissing = DNSExtendedErrorCode(rawValue: 9)
    public static let rrsigsMissing = DNSExtendedErrorCode(rawValue: 10)
    public static let nsecMissing = DNSExtendedErrorCode(rawValue: 12)
    public static let blocked = DNSExtendedErrorCode(rawValue: 15)
    public static let notSupported = DNSExtendedErrorCode(rawValue: 21)
    public static let prohibited = DNSExtendedErrorCode(rawValue: 18)
    public static let notReady = DNSExtendedErrorCode(rawValue: 14)
    public static let noReachableAuthority = DNSExtendedErrorCode(rawValue: 22)
    public static let networkError = DNSExtendedErrorCode(rawValue: 23)

    /// The EDNS option carrying this code (option 15, INFO-CODE only, no EXTRA-TEXT).
    public var option: [UInt8] {
        [0, 15, 0, 2, UInt8(self.rawValue >> 8), UInt8(self.rawValue & 0xFF)]
    }
}
