public import NIOCore

/// Where one resource record sits in a message, so that it can be read or edited in place.
public struct DNSRecordSlot: Hashable, Sendable {
    /// The section a record belongs to.
    public enum Section: UInt8, Sendable {
        case answer, authority, additional
    }

    public var section: Section
    public var type: DNSType
    public var rrclass: DNSClass
    /// Offset of the record's owner name.
    public var nameOffset: Int
    /// Offset of the 32-bit TTL field.
    public var ttlOffset: Int
    /// Offset of the RDATA.
    public var rdataOffset: Int
    public var rdataLength: Int
}

/// The EDNS(0) OPT pseudo-record of a message (RFC 6891), read in place.
public struct OPTView: Hashable, Sendable {
    /// Offset of the record's first byte (its root owner name).
    public var recordOffset: Int
    /// Offset just past the record.
    public var recordEnd: Int
    /// The requestor's UDP payload size (the CLASS field).
    public var udpPayloadSize: UInt16
    /// Upper 8 bits of the extended RCODE.
    public var extendedRCodeHigh: UInt8
    public var version: UInt8
    /// DNSSEC OK (RFC 3225).
    public var dnssecOK: Bool
    /// Offset and length of the options, kept verbatim.
    public var optionsOffset: Int
    public var optionsLength: Int
}

/// A cheap index of a DNS message: the header, the first question, the OPT record and the location of every other
/// record. It validates the whole message (names, lengths, counts) but copies no record data; all offsets are from
/// the start of the message, i.e. the buffer's reader index.
public struct DNSMessageView: Sendable {
    public let header: DNSHeader
    /// The first question, if the message has one.
    public let question: DNSQuestion?
    /// Offset where the first question's name starts (always 12) and where its class field ends.
    public let questionNameEnd: Int
    public let questionEnd: Int
    /// Every answer, authority and additional record except OPT, in message order.
    public let records: [DNSRecordSlot]
    public let opt: OPTView?
    /// Offset just past the last record that the header counts.
    public let messageEnd: Int

    /// Indexes `buffer`'s readable bytes.
    public init(_ buffer: ByteBuffer) throws(DNSWireError) {
        self = try buffer.withUnsafeReadableBytes { (bytes) throws(DNSWireError) -> DNSMessageView in
            try DNSMessageView(reader: WireReader(bytes: bytes))
        }
    }

    /// Indexes the message in `bytes`.
    public init(bytes: UnsafeRawBufferPointer) throws(DNSWireError) {
        try self.init(reader: WireReader(bytes: bytes))
    }

    init(reader: WireReader) throws(DNSWireError) {
        let header = try DNSHeader(reader: reader)
        self.header = header
        var offset = DNSHeader.size
        var question: DNSQuestion? = nil
        var questionNameEnd = offset
        for index in 0..<Int(header.questionCount) {
            if index == 0 {
                let (name, nameEnd) = try reader.readName(at: offset)
                let type = DNSType(try reader.u16(at: nameEnd))
                let rrclass = DNSClass(try reader.u16(at: nameEnd + 2))
                question = DNSQuestion(name: name, type: type, rrclass: rrclass)
                questionNameEnd = nameEnd
                offset = nameEnd + 4
            } else {
                offset = try reader.walkName(at: offset) + 4
                guard offset <= reader.count else { throw .truncated(at: offset) }
            }
        }
        self.question = question
        self.questionNameEnd = questionNameEnd
        self.questionEnd = offset

        var records: [DNSRecordSlot] = []
        var opt: OPTView? = nil
        let sections: [(DNSRecordSlot.Section, UInt16)] = [
            (.answer, header.answerCount), (.authority, header.authorityCount), (.additional, header.additionalCount),
        ]
        for (section, count) in sections {
            for _ in 0..<Int(count) {
                let nameOffset = offset
                let nameEnd = try reader.walkName(at: offset)
                let type = DNSType(try reader.u16(at: nameEnd))
                let rrclass = DNSClass(try reader.u16(at: nameEnd + 2))
                let rdataLength = Int(try reader.u16(at: nameEnd + 8))
                let rdataOffset = nameEnd + 10
                guard rdataOffset + rdataLength <= reader.count else { throw .truncated(at: rdataOffset) }
                offset = rdataOffset + rdataLength
                if type == .opt {
                    guard section == .additional else { throw .badOPT("outside the additional section", at: nameOffset) }
                    guard opt == nil else { throw .badOPT("more than one OPT record", at: nameOffset) }
                    guard nameEnd == nameOffset + 1 else { throw .badOPT("owner name is not the root", at: nameOffset) }
                    opt = try OPTView(reader: reader, recordOffset: nameOffset, rdataOffset: rdataOffset,
                                      rdataLength: rdataLength)
                    continue
                }
                if records.isEmpty { records.reserveCapacity(Int(header.answerCount) + Int(header.authorityCount)
                    + Int(header.additionalCount)) }
                records.append(DNSRecordSlot(section: section, type: type, rrclass: rrclass, nameOffset: nameOffset,
                                             ttlOffset: nameEnd + 4, rdataOffset: rdataOffset,
                                             rdataLength: rdataLength))
            }
        }
        self.records = records
        self.opt = opt
        self.messageEnd = offset
    }

    /// The full response code: the header's 4 bits joined with the OPT record's upper 8 bits.
    public var rcode: DNSRCode {
        DNSRCode(UInt16(self.opt?.extendedRCodeHigh ?? 0) << 4 | UInt16(self.header.rcodeLow))
    }
}

extension DNSHeader {
    init(reader: WireReader) throws(DNSWireError) {
        self.init(
            id: try reader.u16(at: 0),
            flags: try reader.u16(at: 2),
            questionCount: try reader.u16(at: 4),
            answerCount: try reader.u16(at: 6),
            authorityCount: try reader.u16(at: 8),
            additionalCount: try reader.u16(at: 10)
        )
    }

    /// Reads just the header from `buffer`'s readable bytes, or nil when fewer than 12 bytes are there.
    public init?(_ buffer: ByteBuffer) {
        guard let header = try? buffer.withUnsafeReadableBytes({ (bytes) throws(DNSWireError) -> DNSHeader in
            try DNSHeader(reader: WireReader(bytes: bytes))
        }) else { return nil }
        self = header
    }
}

extension OPTView {
    init(reader: WireReader, recordOffset: Int, rdataOffset: Int, rdataLength: Int) throws(DNSWireError) {
        let nameEnd = recordOffset + 1
        let ttl = try reader.u32(at: nameEnd + 4)
        // Options are TLVs; a length that runs past the RDATA is malformed.
        var cursor = rdataOffset
        let end = rdataOffset + rdataLength
        while cursor < end {
            guard cursor + 4 <= end else { throw .badOPT("option header cut short", at: cursor) }
            let length = Int(try reader.u16(at: cursor + 2))
            guard cursor + 4 + length <= end else { throw .badOPT("option data runs past the record", at: cursor) }
            cursor += 4 + length
        }
        self.init(
            recordOffset: recordOffset,
            recordEnd: end,
            udpPayloadSize: try reader.u16(at: nameEnd + 2),
            extendedRCodeHigh: UInt8(ttl >> 24),
            version: UInt8((ttl >> 16) & 0xFF),
            dnssecOK: ttl & 0x8000 != 0,
            optionsOffset: rdataOffset,
            optionsLength: rdataLength
        )
    }
}
