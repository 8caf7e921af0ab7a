public import DNSCore
public import DNSWire

/// What makes two queries share a cached answer: the owner name (ignoring case), type, class, and the DO and CD
/// bits, which change what a resolver puts in the answer. Building one allocates nothing: it refers to the
/// request's name and carries a digest of the lowercased name (seeded per process, like all Swift hashing).
public struct CacheKey: Hashable, Sendable {
    public let name: DNSName
    public let type: UInt16
    public let rrclass: UInt16
    public let dnssecOK: Bool
    public let checkingDisabled: Bool
    /// Hash of everything above, with the name lowercased.
    public let digest: Int

    public init(name: DNSName, type: UInt16, rrclass: UInt16, dnssecOK: Bool, checkingDisabled: Bool) {
        self.name = name
        self.type = type
        self.rrclass = rrclass
        self.dnssecOK = dnssecOK
        self.checkingDisabled = checkingDisabled
        var hasher = Hasher()
        let wire = name.wire
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: wire.count) { lowered in
            for index in wire.indices {
                let byte = wire[index]
                lowered[index] = (byte >= 0x41 && byte <= 0x5A) ? byte | 0x20 : byte
            }
            hasher.combine(bytes: UnsafeRawBufferPointer(lowered))
        }
        hasher.combine(UInt32(type) << 16 | UInt32(rrclass))
        hasher.combine(dnssecOK)
        hasher.combine(checkingDisabled)
        self.digest = hasher.finalize()
    }

    /// The key of `request`.
    public init(_ request: DNSRequest) {
        self.init(name: request.question.name, type: request.question.type.rawValue,
                  rrclass: request.question.rrclass.rawValue, dnssecOK: request.view.opt?.dnssecOK ?? false,
                  checkingDisabled: request.view.header.checkingDisabled)
    }

    public static func == (lhs: CacheKey, rhs: CacheKey) -> Bool {
        lhs.digest == rhs.digest && lhs.type == rhs.type && lhs.rrclass == rhs.rrclass
            && lhs.dnssecOK == rhs.dnssecOK && lhs.checkingDisabled == rhs.checkingDisabled && lhs.name == rhs.name
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.digest)
    }
}
