public import NIOCore

/// A record dnsgate answers with itself, owned by the question's name.
public struct DNSLocalRecord: Sendable, Hashable {
    public var type: DNSType
    public var ttl: UInt32
    public var rdata: [UInt8]
    /// The record's owner when it is not the question's name (the records after a CNAME).
    public var owner: DNSName?

    public init(type: DNSType, ttl: UInt32, rdata: [UInt8], owner: DNSName? = nil) {
        self.type = type
        self.ttl = ttl
        self.rdata = rdata
        self.owner = owner
    }
}

/// Builds the responses a server writes itself: errors (FORMERR, SERVFAIL, REFUSED, NOTIMP, BADVERS) and local
/// answers, echoing the query's ID, opcode, RD and CD bits and question, with an OPT record (and an Extended DNS
/// Error, RFC 8914, when one is given) if the query had one.
public enum DNSErrorResponse {
    /// The UDP payload size dnsgate advertises (the DNS Flag Day 2020 value).
    public static let advertisedUDPPayloadSize: UInt16 = 1232

    /// A response with `rcode` to `query`, answering with `answers` (owned by the question's name). `view` is the
    /// query's index, or nil when only its header was readable, in which case the response has no question (and
    /// no answers). Returns nil when `query` has no readable header at all.
    public static func make(
        _ rcode: DNSRCode,
        to query: ByteBuffer,
        view: DNSMessageView?,
        extendedError: DNSExtendedErrorCode? = nil,
        answers: [DNSLocalRecord] = [],
        allocator: ByteBufferAllocator = ByteBufferAllocator()
    ) -> ByteBuffer? {
        guard let queryHeader = view?.header ?? DNSHeader(query) else { return nil }
        var header = DNSHeader(id: queryHeader.id)
        header.flags = queryHeader.flags & (0x7800 | DNSHeader.Flag.rd | DNSHeader.Flag.cd)
        header.isResponse = true
        header.recursionAvailable = true
        header.rcodeLow = UInt8(rcode.rawValue & 0x0F)
        let questionLength = view.map { $0.questionEnd - DNSHeader.size } ?? 0
        header.questionCount = view?.header.questionCount ?? 0
        let answers = questionLength > 0 ? answers : []
        header.answerCount = UInt16(answers.count)
        let wantsOPT = view?.opt != nil || rcode.rawValue > 0x0F
        header.additionalCount = wantsOPT ? 1 : 0

        let answerLength = answers.reduce(0) { $0 + 12 + $1.rdata.count + ($1.owner?.wire.count ?? 0) }
        var out = allocator.buffer(capacity: DNSHeader.size + questionLength + answerLength + 32)
        out.writeDNSHeader(header)
        if questionLength > 0, let question = query.getSlice(at: query.readerIndex + DNSHeader.size,
                                                             length: questionLength) {
            out.writeImmutableBuffer(question)
        }
        for record in answers {
            if let owner = record.owner {
                out.writeBytes(owner.wire)
            } else {
                // The question's name, by a compression pointer to offset 12.
                out.writeInteger(UInt16(0xC00C))
            }
            out.writeMultipleIntegers(record.type.rawValue, DNSClass.in.rawValue, record.ttl,
                                      UInt16(record.rdata.count))
            out.writeBytes(record.rdata)
        }
        if wantsOPT {
            let options = extendedError?.option ?? []
            let flags: UInt32 = (view?.opt?.dnssecOK ?? false) ? 0x8000 : 0
            let ttl = UInt32(rcode.rawValue >> 4) << 24 | flags
            out.writeInteger(UInt8(0))
            out.writeMultipleIntegers(DNSType.opt.rawValue, Self.advertisedUDPPayloadSize, ttl, UInt16(options.count))
            out.writeBytes(options)
        }
        return out
    }
}
