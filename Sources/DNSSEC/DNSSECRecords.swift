import DNSWire

/// A DNSKEY record's RDATA (RFC 4034 §2), with its public key parsed once for all the signatures it checks.
struct DNSKEYRecord: Hashable, Sendable {
    let flags: UInt16
    let `protocol`: UInt8
    let algorithm: UInt8
    let publicKey: [UInt8]
    /// The RDATA as received, which DS digests cover.
    let rdata: [UInt8]
    /// The key ready to verify with, or nil for an unsupported algorithm or a malformed key.
    let verifier: SignatureVerifier?

    init?(rdata: [UInt8]) {
        guard rdata.count > 4 else { return nil }
        self.flags = UInt16(rdata[0]) << 8 | UInt16(rdata[1])
        self.protocol = rdata[2]
        self.algorithm = rdata[3]
        self.publicKey = Array(rdata[4...])
        self.rdata = rdata
        self.verifier = SignatureVerifier(algorithm: self.algorithm, publicKey: self.publicKey)
    }

    static func == (lhs: DNSKEYRecord, rhs: DNSKEYRecord) -> Bool { lhs.rdata == rhs.rdata }

    func hash(into hasher: inout Hasher) { hasher.combine(self.rdata) }

    /// The Zone Key flag (bit 7): only zone keys sign zone data.
    var isZoneKey: Bool { self.flags & 0x0100 != 0 }
    /// The REVOKE flag (RFC 5011): a revoked key validates nothing.
    var isRevoked: Bool { self.flags & 0x0080 != 0 }

    /// The key tag (RFC 4034 Appendix B).
    var keyTag: UInt16 {
        var accumulator: UInt32 = 0
        for (index, byte) in self.rdata.enumerated() {
            accumulator += index & 1 == 0 ? UInt32(byte) << 8 : UInt32(byte)
        }
        accumulator += (accumulator >> 16) & 0xFFFF
        return UInt16(accumulator & 0xFFFF)
    }
}

/// A DS record's RDATA (RFC 4034 §5).
struct DSRecord: Hashable, Sendable {
    let keyTag: UInt16
    let algorithm: UInt8
    let digestType: UInt8
    let digest: [UInt8]

    init?(rdata: [UInt8]) {
        guard rdata.count > 4 else { return nil }
        self.keyTag = UInt16(rdata[0]) << 8 | UInt16(rdata[1])
        self.algorithm = rdata[2]
        self.digestType = rdata[3]
        self.digest = Array(rdata[4...])
    }

    init(keyTag: UInt16, algorithm: UInt8, digestType: UInt8, digest: [UInt8]) {
        self.keyTag = keyTag
        self.algorithm = algorithm
        self.digestType = digestType
        self.digest = digest
    }

    /// Whether dnsgate can check this DS: a supported key algorithm and digest type.
    var isSupported: Bool {
        DNSSECAlgorithm.isSupported(self.algorithm) && DSDigest.isSupported(self.digestType)
    }

    /// Whether this DS names `key` of zone `owner`: tag, algorithm and digest all match.
    func matches(_ key: DNSKEYRecord, owner: DNSName) -> Bool {
        key.algorithm == self.algorithm && key.keyTag == self.keyTag
            && DSDigest.digest(type: self.digestType, owner: owner, key: key) == self.digest
    }
}

/// An RRSIG record's RDATA (RFC 4034 §3).
struct RRSIGRecord: Hashable, Sendable {
    let typeCovered: DNSType
    let algorithm: UInt8
    let labels: UInt8
    let originalTTL: UInt32
    let expiration: UInt32
    let inception: UInt32
    let keyTag: UInt16
    let signerName: DNSName
    let signature: [UInt8]
    /// The RDATA up to the signature, the signer name lowercased: the start of what the signature covers.
    let signedPrefix: [UInt8]

    init?(rdata: [UInt8]) {
        guard rdata.count > 18 else { return nil }
        func u32(_ at: Int) -> UInt32 {
            UInt32(rdata[at]) << 24 | UInt32(rdata[at + 1]) << 16 | UInt32(rdata[at + 2]) << 8 | UInt32(rdata[at + 3])
        }
        self.typeCovered = DNSType(UInt16(rdata[0]) << 8 | UInt16(rdata[1]))
        self.algorithm = rdata[2]
        self.labels = rdata[3]
        self.originalTTL = u32(4)
        self.expiration = u32(8)
        self.inception = u32(12)
        self.keyTag = UInt16(rdata[16]) << 8 | UInt16(rdata[17])
        guard let (signer, end) = NameScanner.name(in: rdata, at: 18), end < rdata.count else { return nil }
        self.signerName = signer
        self.signature = Array(rdata[end...])
        self.signedPrefix = Array(rdata[0..<18]) + signer.canonical.wire
    }
}

/// An NSEC record's RDATA (RFC 4034 §4).
struct NSECRecord: Hashable, Sendable {
    let nextName: DNSName
    let types: TypeBitmap

    init?(rdata: [UInt8]) {
        guard let (next, end) = NameScanner.name(in: rdata, at: 0),
              let types = TypeBitmap(bytes: rdata[end...]) else { return nil }
        self.nextName = next
        self.types = types
    }
}

/// An NSEC3 record's RDATA (RFC 5155 §3).
struct NSEC3Record: Hashable, Sendable {
    let hashAlgorithm: UInt8
    let flags: UInt8
    let iterations: UInt16
    let salt: [UInt8]
    let nextHashedOwner: [UInt8]
    let types: TypeBitmap

    init?(rdata: [UInt8]) {
        guard rdata.count >= 5 else { return nil }
        self.hashAlgorithm = rdata[0]
        self.flags = rdata[1]
        self.iterations = UInt16(rdata[2]) << 8 | UInt16(rdata[3])
        let saltLength = Int(rdata[4])
        let hashAt = 5 + saltLength
        guard rdata.count > hashAt else { return nil }
        self.salt = Array(rdata[5..<hashAt])
        let hashLength = Int(rdata[hashAt])
        let typesAt = hashAt + 1 + hashLength
        guard hashLength > 0, rdata.count >= typesAt, let types = TypeBitmap(bytes: rdata[typesAt...]) else {
            return nil
        }
        self.nextHashedOwner = Array(rdata[(hashAt + 1)..<typesAt])
        self.types = types
    }

    /// The Opt-Out flag: the span this record covers may hold unsigned delegations.
    var optOut: Bool { self.flags & 1 != 0 }
}

/// The type bitmap of NSEC and NSEC3 records (RFC 4034 §4.1.2).
struct TypeBitmap: Hashable, Sendable {
    private let present: Set<UInt16>

    init?(bytes: ArraySlice<UInt8>) {
        var present = Set<UInt16>()
        var offset = bytes.startIndex
        var lastWindow = -1
        while offset < bytes.endIndex {
            guard offset + 1 < bytes.endIndex else { return nil }
            let window = Int(bytes[offset])
            let length = Int(bytes[offset + 1])
            guard window > lastWindow, (1...32).contains(length), offset + 2 + length <= bytes.endIndex else {
                return nil
            }
            lastWindow = window
            for index in 0..<length {
                let byte = bytes[offset + 2 + index]
                for bit in 0..<8 where byte & (0x80 >> bit) != 0 {
                    present.insert(UInt16(window * 256 + index * 8 + bit))
                }
            }
            offset += 2 + length
        }
        self.present = present
    }

    func contains(_ type: DNSType) -> Bool { self.present.contains(type.rawValue) }

    /// A delegation seen from the parent: NS without SOA.
    var isDelegation: Bool { self.contains(.ns) && !self.contains(.soa) }
}

/// Reads uncompressed names inside RDATA.
enum NameScanner {
    /// The name at `offset` and where it ends; nil when it runs past the bytes or uses compression.
    static func name(in bytes: [UInt8], at offset: Int) -> (DNSName, Int)? {
        var position = offset
        while position < bytes.count {
            let length = Int(bytes[position])
            if length == 0 {
                guard let name = DNSName(wire: Array(bytes[offset...position])) else { return nil }
                return (name, position + 1)
            }
            guard length <= 63 else { return nil }
            position += 1 + length
        }
        return nil
    }
}
