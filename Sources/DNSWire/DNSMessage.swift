public import NIOCore

/// A whole DNS message as values: for building messages and for tests. The proxy's hot path uses
/// ``DNSMessageView`` and in-place edits instead.
public struct DNSMessage: Hashable, Sendable {
    /// ID and flags; the section counts are derived from the arrays when encoding.
    public var id: UInt16
    public var flags: UInt16
    public var questions: [DNSQuestion]
    public var answers: [DNSRecord]
    public var authorities: [DNSRecord]
    /// Additional records, including an OPT record if there is one.
    public var additionals: [DNSRecord]

    public init(
        id: UInt16 = 0,
        flags: UInt16 = 0,
        questions: [DNSQuestion] = [],
        answers: [DNSRecord] = [],
        authorities: [DNSRecord] = [],
        additionals: [DNSRecord] = []
    ) {
        self.id = id
        self.flags = flags
        self.questions = questions
        self.answers = answers
        self.authorities = authorities
        self.additionals = additionals
    }

    /// A standard query with RD set, optionally with an OPT record advertising `udpPayloadSize`.
    public static func query(
        _ name: DNSName,
        _ type: DNSType,
        id: UInt16 = 0,
        udpPayloadSize: UInt16? = nil,
        dnssecOK: Bool = false
    ) -> DNSMessage {
        DNSMessage(
            id: id,
            flags: DNSHeader.Flag.rd,
            questions: [DNSQuestion(name: name, type: type)],
            additionals: udpPayloadSize.map { [.opt(udpPayloadSize: $0, dnssecOK: dnssecOK)] } ?? []
        )
    }

    /// Decodes every section of the message in `buffer`'s readable bytes.
    public init(_ buffer: ByteBuffer) throws(DNSWireError) {
        self = try buffer.withUnsafeReadableBytes { (bytes) throws(DNSWireError) -> DNSMessage in
            try DNSMessage(reader: WireReader(bytes: bytes))
        }
    }

    init(reader: WireReader) throws(DNSWireError) {
        let view = try DNSMessageView(reader: reader)
        self.init(id: view.header.id, flags: view.header.flags)
        var offset = DNSHeader.size
        for _ in 0..<Int(view.header.questionCount) {
            let (name, nameEnd) = try reader.readName(at: offset)
            self.questions.append(DNSQuestion(name: name, type: DNSType(try reader.u16(at: nameEnd)),
                                              rrclass: DNSClass(try reader.u16(at: nameEnd + 2))))
            offset = nameEnd + 4
        }
        var slots = view.records[...]
        let counts: [(DNSRecordSlot.Section, UInt16)] = [
            (.answer, view.header.answerCount), (.authority, view.header.authorityCount),
            (.additional, view.header.additionalCount),
        ]
        for (section, count) in counts {
            for _ in 0..<Int(count) {
                let record: DNSRecord
                if let opt = view.opt, offset == opt.recordOffset {
                    record = DNSRecord(name: .root, type: .opt, rrclass: DNSClass(opt.udpPayloadSize),
                                       ttl: try reader.u32(at: opt.recordOffset + 5),
                                       rdata: Array(reader.bytes[opt.optionsOffset..<opt.recordEnd]))
                    offset = opt.recordEnd
                } else if let slot = slots.popFirst() {
                    let (name, _) = try reader.readName(at: slot.nameOffset)
                    record = DNSRecord(
                        name: name, type: slot.type, rrclass: slot.rrclass, ttl: try reader.u32(at: slot.ttlOffset),
                        rdata: try DNSRecord.uncompressedRDATA(reader: reader, type: slot.type,
                                                               offset: slot.rdataOffset, length: slot.rdataLength))
                    offset = slot.rdataOffset + slot.rdataLength
                } else {
                    throw .truncated(at: offset)
                }
                switch section {
                case .answer: self.answers.append(record)
                case .authority: self.authorities.append(record)
                case .additional: self.additionals.append(record)
                }
            }
        }
    }

    /// The header this message encodes with.
    public var header: DNSHeader {
        DNSHeader(id: self.id, flags: self.flags, questionCount: UInt16(clamping: self.questions.count),
                  answerCount: UInt16(clamping: self.answers.count),
                  authorityCount: UInt16(clamping: self.authorities.count),
                  additionalCount: UInt16(clamping: self.additionals.count))
    }

    /// The message in wire form, names uncompressed.
    public func encoded(allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var out = allocator.buffer(capacity: 512)
        out.writeDNSHeader(self.header)
        for question in self.questions {
            out.writeBytes(question.name.wire)
            out.writeMultipleIntegers(question.type.rawValue, question.rrclass.rawValue)
        }
        for record in self.answers + self.authorities + self.additionals {
            out.writeBytes(record.name.wire)
            out.writeMultipleIntegers(record.type.rawValue, record.rrclass.rawValue, record.ttl,
                                      UInt16(clamping: record.rdata.count))
            out.writeBytes(record.rdata)
        }
        return out
    }
}
