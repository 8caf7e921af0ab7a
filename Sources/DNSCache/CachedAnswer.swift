public import DNSWire
public import NIOCore
public import DNSCore

/// An upstream answer prepared for the cache: TTLs clamped by the policy and written into the bytes, the OPT record's
/// options removed (cookies and other per-client data must not reach other clients), and the offsets of every TTL
/// field kept, so that serving it is a copy and a few integer writes. Everything sits in one exactly sized allocation
/// (``AnswerBytes``): a `ByteBuffer` would add an object of its own and round the bytes up to a power of two, which
/// came to about 200 of the 350 bytes a cached answer cost (heaptrack, 100,000 answers).
public struct CachedAnswer: @unchecked Sendable {
    // @unchecked: ManagedBuffer is never Sendable, but `AnswerBytes` is immutable once made.
    private let storage: AnswerBytes

    /// The answer as it will be served, before per-client edits; its ID is meaningless.
    public var message: ByteBuffer {
        self.storage.withBytes { ByteBuffer(bytes: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: $0.prefix(self.messageLength)))) }
    }

    /// The message's length; the TTL offsets follow it.
    var messageLength: Int { Int(self.storage.header.messageLength) }

    /// Offset of the OPT record, the message's last record, if it has one.
    public var optOffset: Int? {
        let offset = self.storage.header.optOffset
        return offset == AnswerBytes.noOPT ? nil : Int(offset)
    }

    /// Seconds the answer stays fresh.
    public var lifetime: UInt32 { self.storage.header.lifetime }

    /// The answer's RCODE: its header's four bits (extended RCODEs are not cached).
    public var rcode: DNSRCode {
        DNSRCode(UInt16(self.storage.withBytes { $0[3] } & 0x0F))
    }

    /// Offsets of the TTL fields of every record but OPT.
    var ttlOffsets: some Sequence<Int> {
        stride(from: self.messageLength, to: Int(self.storage.header.count), by: 2).lazy.map { at in
            self.storage.withBytes { Int($0[at]) << 8 | Int($0[at + 1]) }
        }
    }

    /// Memory this entry accounts for: its allocation plus the shard's slot and index entry.
    public var cost: Int { Int(self.storage.header.count) + AnswerBytes.overhead + 160 }

    /// Calls `body` with the message and TTL offsets.
    func withBytes<Result>(_ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        try self.storage.withBytes(body)
    }

    /// Prepares `message` (indexed by `view`) for caching under `policy`, or returns nil when it must not be cached:
    /// truncated answers, answers with a TTL of 0, negative answers without an SOA (RFC 2308 §5), rcodes other than
    /// NOERROR, NXDOMAIN and (briefly) SERVFAIL, and answers whose OPT record is not last.
    public init?(message: ByteBuffer, view: DNSMessageView, policy: CachePolicy) {
        guard !view.header.isTruncated, view.messageEnd <= Int(UInt16.max),
            let wire = message.getSlice(at: message.readerIndex, length: view.messageEnd)
        else { return nil }
        // A copy of exactly the message and its offsets: the original may be a slice of a large receive buffer.
        var message = ByteBuffer()
        message.reserveCapacity(wire.readableBytes + 2 * view.records.count)
        message.writeImmutableBuffer(wire)
        let rcode = view.rcode
        let lifetime: UInt32
        switch rcode {
        case .noError where view.header.answerCount > 0:
            let smallest = view.records.compactMap { message.dnsTTL(of: $0) }.min() ?? 0
            lifetime = Self.clamp(smallest, policy)
            for slot in view.records {
                if let ttl = message.dnsTTL(of: slot) { message.setDNSTTL(Self.clamp(ttl, policy), of: slot) }
            }
        case .noError, .nxDomain:
            // RFC 2308 §5: negative answers live as long as the SOA's TTL and MINIMUM allow, and that is the TTL
            // the SOA is served with.
            guard let soa = view.records.first(where: { $0.section == .authority && $0.type == .soa }),
                let soaTTL = message.dnsTTL(of: soa),
                let minimum = message.getInteger(at: message.readerIndex + soa.rdataOffset + soa.rdataLength - 4,
                                                 as: UInt32.self)
            else { return nil }
            lifetime = min(Self.clamp(min(soaTTL, minimum), policy), policy.maxNegativeTTL)
            for slot in view.records {
                if let ttl = message.dnsTTL(of: slot) { message.setDNSTTL(min(ttl, lifetime), of: slot) }
            }
        case .servFail:
            lifetime = policy.servFailTTL
        default:
            return nil
        }
        guard lifetime > 0 else { return nil }
        if let opt = view.opt {
            guard opt.recordEnd == view.messageEnd else { return nil }
            if opt.optionsLength > 0 {
                message.setInteger(UInt16(0), at: message.readerIndex + opt.optionsOffset - 2)
                message.moveWriterIndex(to: message.readerIndex + opt.optionsOffset)
            }
        }
        let messageLength = message.readableBytes
        for slot in view.records { message.writeInteger(UInt16(slot.ttlOffset)) }
        self.storage = message.withUnsafeReadableBytes { bytes in
            AnswerBytes.make(copying: bytes, header: AnswerBytes.Header(
                count: UInt32(bytes.count), messageLength: UInt16(messageLength),
                optOffset: view.opt.map { UInt16($0.recordOffset) } ?? AnswerBytes.noOPT, lifetime: lifetime))
        }
    }

    private static func clamp(_ ttl: UInt32, _ policy: CachePolicy) -> UInt32 {
        min(max(ttl, policy.minTTL), policy.maxTTL)
    }

    /// Whether this is the answer to `key`'s question: same name ignoring case, type and class.
    func answers(_ key: CacheKey) -> Bool {
        guard self.isAnswer(for: key.name) else { return false }
        let typeAt = DNSHeader.size + key.name.wire.count
        return self.storage.withBytes { bytes in
            UInt16(bytes[typeAt]) << 8 | UInt16(bytes[typeAt + 1]) == key.type
                && UInt16(bytes[typeAt + 2]) << 8 | UInt16(bytes[typeAt + 3]) == key.rrclass
        }
    }

    /// Whether this answers a question for `name` (ignoring case), of any type; type and class follow it.
    func isAnswer(for name: DNSName) -> Bool {
        let wire = name.wire
        let nameStart = DNSHeader.size
        guard self.messageLength >= nameStart + wire.count + 4 else { return false }
        return self.storage.withBytes { bytes in
            for index in wire.indices {
                let stored = bytes[nameStart + index]
                let asked = wire[index]
                if stored != asked, stored | 0x20 != asked | 0x20 || !(0x61...0x7A).contains(stored | 0x20) {
                    return false
                }
            }
            return true
        }
    }
}
