public import NIOCore

/// Builds the small responses a server writes itself: FORMERR, SERVFAIL, REFUSED, NOTIMP and BADVERS, echoing the
/// query's ID, opcode, RD and CD bits and question, with an OPT record (and an Extended DNS Error, RFC 8914, when
/// one is given) if the query had one.
public enum DNSErrorResponse {
    /// The UDP payload size dnsgate advertises (the DNS Flag Day 2020 value).
    public static let advertisedUDPPayloadSize: UInt16 = 1232

    /// A response with `rcode` to `query`. `view` is the query's index, or nil when only its header was readable,
    /// in which case the response has no question. Returns nil when `query` has no readable header at all.
    public static func make(
        _ rcode: DNSRCode,
        to query: ByteBuffer,
        view: DNSMessageView?,
        extendedError: DNSExtendedErrorCode? = nil,
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
        let wantsOPT = view?.opt != nil || rcode.rawValue > 0x0F
        header.additionalCount = wantsOPT ? 1 : 0

        var out = allocator.buffer(capacity: DNSHeader.size + questionLength + 32)
        out.writeDNSHeader(header)
        if questionLength > 0, let question = query.getSlice(at: query.readerIndex + DNSHeader.size,
                                                             length: questionLength) {
            out.writeImmutableBuffer(question)
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
