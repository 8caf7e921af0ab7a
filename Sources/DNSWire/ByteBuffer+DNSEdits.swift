public import NIOCore

/// In-place edits of a DNS message held in a `ByteBuffer`, the operations a proxy needs on every answer.
/// Offsets are relative to the reader index, as in ``DNSMessageView``.
extension ByteBuffer {
    /// The message ID, or nil when fewer than two bytes are readable.
    public var dnsMessageID: UInt16? {
        self.getInteger(at: self.readerIndex, as: UInt16.self)
    }

    /// Overwrites the message ID.
    public mutating func setDNSMessageID(_ id: UInt16) {
        self.setInteger(id, at: self.readerIndex)
    }

    /// Overwrites the flags word (QR, opcode, AA, TC, RD, RA, AD, CD, RCODE).
    public mutating func setDNSFlags(_ flags: UInt16) {
        self.setInteger(flags, at: self.readerIndex + 2)
    }

    /// Clears the single-bit flags of `mask`, leaving the others as they are. Does nothing to a message shorter
    /// than a header.
    public mutating func clearDNSFlagBits(_ mask: UInt16) {
        guard let flags = self.getInteger(at: self.readerIndex + 2, as: UInt16.self) else { return }
        self.setInteger(flags & ~mask, at: self.readerIndex + 2)
    }

    /// Sets the single-bit flags of `mask` (``DNSHeader/Flag``), leaving the others as they are. Does nothing to a
    /// message shorter than a header.
    public mutating func setDNSFlagBits(_ mask: UInt16) {
        guard let flags = self.getInteger(at: self.readerIndex + 2, as: UInt16.self) else { return }
        self.setInteger(flags | mask, at: self.readerIndex + 2)
    }

    /// Copies the client's spelling of the question name over the answer's, which upstreams may have changed
    /// (0x20 mixed case, RFC draft-vixie-dnsext-dns0x20). Does nothing unless the names are equal ignoring case.
    /// - Returns: whether the names matched.
    @discardableResult
    public mutating func restoreDNSQuestionSpelling(_ name: DNSName, view: DNSMessageView) -> Bool {
        guard let question = view.question, question.name == name,
            view.questionNameEnd - DNSHeader.size == name.wire.count
        else { return false }
        self.setBytes(name.wire, at: self.readerIndex + DNSHeader.size)
        return true
    }

    /// Reads the TTL of a record.
    public func dnsTTL(of slot: DNSRecordSlot) -> UInt32? {
        self.getInteger(at: self.readerIndex + slot.ttlOffset, as: UInt32.self)
    }

    /// Overwrites the TTL of a record.
    public mutating func setDNSTTL(_ ttl: UInt32, of slot: DNSRecordSlot) {
        self.setInteger(ttl, at: self.readerIndex + slot.ttlOffset)
    }

    /// Lowers every record's TTL (OPT aside) by `age` seconds, for an answer that has waited that long somewhere;
    /// returns false, with the message partly edited, when a TTL would reach zero (the answer has expired).
    public mutating func dnsLowerTTLs(by age: UInt32, view: DNSMessageView) -> Bool {
        for slot in view.records {
            guard let ttl = self.dnsTTL(of: slot) else { continue }
            guard ttl > age else { return false }
            self.setDNSTTL(ttl - age, of: slot)
        }
        return true
    }

    /// The message as a UDP answer of at most `limit` bytes: itself when it fits, else cut down with TC=1
    /// (``dnsTruncated(view:allocator:)``); nil when it is too long and not a readable message.
    public func dnsFitted(toUDPSize limit: Int) -> ByteBuffer? {
        guard self.readableBytes > limit else { return self }
        guard let view = try? DNSMessageView(self) else { return nil }
        return self.dnsTruncated(view: view)
    }

    /// The message cut down to what fits any UDP size: header with TC=1, the question section and the OPT record
    /// (RFC 6891 §7); the client is expected to retry over TCP.
    public func dnsTruncated(view: DNSMessageView, allocator: ByteBufferAllocator = ByteBufferAllocator())
        -> ByteBuffer
    {
        let optLength = view.opt.map { $0.recordEnd - $0.recordOffset } ?? 0
        var out = allocator.buffer(capacity: view.questionEnd + optLength)
        var header = view.header
        header.isTruncated = true
        header.answerCount = 0
        header.authorityCount = 0
        header.additionalCount = view.opt == nil ? 0 : 1
        out.writeDNSHeader(header)
        if let question = self.getSlice(at: self.readerIndex + DNSHeader.size,
                                        length: view.questionEnd - DNSHeader.size) {
            out.writeImmutableBuffer(question)
        }
        if let opt = view.opt, let record = self.getSlice(at: self.readerIndex + opt.recordOffset, length: optLength) {
            out.writeImmutableBuffer(record)
        }
        return out
    }

    /// Writes a 12-byte header.
    @discardableResult
    public mutating func writeDNSHeader(_ header: DNSHeader) -> Int {
        self.writeMultipleIntegers(
            header.id, header.flags, header.questionCount, header.answerCount, header.authorityCount,
            header.additionalCount
        )
    }
}

extension ByteBuffer {
    /// Whether the OPT record `opt` of the message in this buffer carries an option with `code` (for example 8,
    /// EDNS Client Subnet, RFC 7871).
    public func dnsHasEDNSOption(_ code: UInt16, opt: OPTView) -> Bool {
        var cursor = self.readerIndex + opt.optionsOffset
        let end = cursor + opt.optionsLength
        while cursor + 4 <= end {
            guard let optionCode = self.getInteger(at: cursor, as: UInt16.self),
                let length = self.getInteger(at: cursor + 2, as: UInt16.self)
            else { return false }
            if optionCode == code { return true }
            cursor += 4 + Int(length)
        }
        return false
    }
}
