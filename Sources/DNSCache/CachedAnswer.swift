public import DNSWire
public import NIOCore

/// An upstream answer prepared for the cache: TTLs clamped by the policy and written into the bytes, the OPT record's
/// options removed (cookies and other per-client data must not reach other clients), and the offsets of every TTL
/// field kept, so that serving it is a copy and a few integer writes.
public struct CachedAnswer: Sendable {
    /// The answer as it will be served, before per-client edits; its ID is meaningless.
    public let message: ByteBuffer
    /// Offsets of the TTL fields of every record but OPT.
    public let ttlOffsets: [Int]
    /// Offset of the OPT record, the message's last record, if it has one.
    public let optOffset: Int?
    /// Seconds the answer stays fresh.
    public let lifetime: UInt32

    /// Memory this entry accounts for: its bytes plus bookkeeping.
    public var cost: Int { self.message.readableBytes + self.ttlOffsets.count * 8 + 160 }

    /// Prepares `message` (indexed by `view`) for caching under `policy`, or returns nil when it must not be cached:
    /// truncated answers, answers with a TTL of 0, negative answers without an SOA (RFC 2308 §5), rcodes other than
    /// NOERROR, NXDOMAIN and (briefly) SERVFAIL, and answers whose OPT record is not last.
    public init?(message: ByteBuffer, view: DNSMessageView, policy: CachePolicy) {
        guard !view.header.isTruncated,
            let wire = message.getSlice(at: message.readerIndex, length: view.messageEnd)
        else { return nil }
        // A copy of exactly the message: the original may be a slice of a large receive buffer.
        var message = ByteBuffer()
        message.reserveCapacity(wire.readableBytes)
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
        self.message = message
        self.ttlOffsets = view.records.map(\.ttlOffset)
        self.optOffset = view.opt?.recordOffset
        self.lifetime = lifetime
    }

    private static func clamp(_ ttl: UInt32, _ policy: CachePolicy) -> UInt32 {
        min(max(ttl, policy.minTTL), policy.maxTTL)
    }
}
