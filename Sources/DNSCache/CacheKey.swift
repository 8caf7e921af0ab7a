public import DNSCore
import DNSWire

/// What makes two queries share a cached answer: the owner name (ignoring case), type, class, and the DO and CD
/// bits, which change what a resolver puts in the answer.
public struct CacheKey: Hashable, Sendable {
    /// The question name in lowercase wire form.
    public let name: [UInt8]
    public let type: UInt16
    public let rrclass: UInt16
    public let dnssecOK: Bool
    public let checkingDisabled: Bool

    public init(name: [UInt8], type: UInt16, rrclass: UInt16, dnssecOK: Bool, checkingDisabled: Bool) {
        self.name = name
        self.type = type
        self.rrclass = rrclass
        self.dnssecOK = dnssecOK
        self.checkingDisabled = checkingDisabled
    }

    public static func == (lhs: CacheKey, rhs: CacheKey) -> Bool {
        lhs.type == rhs.type && lhs.rrclass == rhs.rrclass && lhs.dnssecOK == rhs.dnssecOK
            && lhs.checkingDisabled == rhs.checkingDisabled && lhs.name == rhs.name
    }

    /// Hashes the name's bytes in one call rather than one call per byte, as `Array`'s own hashing does.
    public func hash(into hasher: inout Hasher) {
        self.name.withUnsafeBytes { hasher.combine(bytes: $0) }
        hasher.combine(UInt32(self.type) << 16 | UInt32(self.rrclass))
        hasher.combine(self.dnssecOK)
        hasher.combine(self.checkingDisabled)
    }

    /// The key of `request`.
    public init(_ request: DNSRequest) {
        self.init(name: request.question.name.lowercased.wire, type: request.question.type.rawValue,
                  rrclass: request.question.rrclass.rawValue, dnssecOK: request.view.opt?.dnssecOK ?? false,
                  checkingDisabled: request.view.header.checkingDisabled)
    }
}
