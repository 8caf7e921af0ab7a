public import NIOCore

/// EDNS(0) padding (RFC 7830) with the block-length policy of RFC 8467.
extension ByteBuffer {
    /// The Padding option's code.
    public static let ednsPaddingOption: UInt16 = 12
    /// RFC 8467 §4.1: queries are padded to a multiple of 128 octets.
    public static let queryPaddingBlock = 128
    /// RFC 8467 §4.1: a server pads answers to a multiple of 468 octets, for clients that padded their query.
    public static let answerPaddingBlock = 468

    /// The message padded to a multiple of `block` octets: its OPT record gets a Padding option, in place of any it
    /// had; a message without an OPT record gets one (payload size 1232). `view` indexes this buffer.
    public func dnsPadded(toMultipleOf block: Int, view: DNSMessageView) -> ByteBuffer {
        var options = self.dnsOptions(of: view.opt, dropping: Self.ednsPaddingOption)
        let unpadded = view.messageEnd - (view.opt.map { $0.recordEnd - $0.recordOffset } ?? 0) + 11 + options.count + 4
        let padding = (block - unpadded % block) % block
        options.append(contentsOf: [0, UInt8(Self.ednsPaddingOption), UInt8(padding >> 8), UInt8(padding & 0xFF)])
        options.append(contentsOf: repeatElement(0, count: padding))
        return self.dnsReplacingOPT(view: view, options: options)
    }

    /// The message without Padding options, and without its OPT record at all when `keepOPT` is false (an answer
    /// for a client that sent none); nil when there is nothing to remove. `view` indexes this buffer.
    public func dnsWithoutPadding(view: DNSMessageView, keepOPT: Bool) -> ByteBuffer? {
        guard let opt = view.opt else { return nil }
        guard keepOPT else { return self.dnsReplacingOPT(view: view, options: nil) }
        guard self.dnsHasEDNSOption(Self.ednsPaddingOption, opt: opt) else { return nil }
        return self.dnsReplacingOPT(view: view, options: self.dnsOptions(of: opt, dropping: Self.ednsPaddingOption))
    }

    /// The options of `opt` except those with code `dropped`, as wire bytes.
    private func dnsOptions(of opt: OPTView?, dropping dropped: UInt16) -> [UInt8] {
        guard let opt else { return [] }
        var kept: [UInt8] = []
        var cursor = self.readerIndex + opt.optionsOffset
        let end = cursor + opt.optionsLength
        while cursor + 4 <= end, let code = self.getInteger(at: cursor, as: UInt16.self),
            let length = self.getInteger(at: cursor + 2, as: UInt16.self)
        {
            let next = min(cursor + 4 + Int(length), end)
            if code != dropped, let bytes = self.getBytes(at: cursor, length: next - cursor) { kept += bytes }
            cursor = next
        }
        return kept
    }

    /// The message with its OPT record (wherever it was) moved to the end and given `options`, or removed when
    /// `options` is nil; one is added when the message had none.
    private func dnsReplacingOPT(view: DNSMessageView, options: [UInt8]?) -> ByteBuffer {
        let start = self.readerIndex
        var out = ByteBufferAllocator().buffer(capacity: view.messageEnd + 11 + (options?.count ?? 0))
        let optRange = view.opt.map { ($0.recordOffset, $0.recordEnd) } ?? (view.messageEnd, view.messageEnd)
        if let before = self.getSlice(at: start, length: optRange.0) { out.writeImmutableBuffer(before) }
        if let after = self.getSlice(at: start + optRange.1, length: view.messageEnd - optRange.1) {
            out.writeImmutableBuffer(after)
        }
        var additional = Int(self.getInteger(at: start + 10, as: UInt16.self) ?? 0)
        if view.opt != nil { additional -= 1 }
        if let options {
            let opt = view.opt
            out.writeInteger(UInt8(0))
            out.writeMultipleIntegers(DNSType.opt.rawValue, opt?.udpPayloadSize ?? DNSErrorResponse.advertisedUDPPayloadSize,
                                      opt?.extendedRCodeHigh ?? 0, opt?.version ?? 0,
                                      UInt16((opt?.dnssecOK ?? false) ? 0x8000 : 0), UInt16(options.count))
            out.writeBytes(options)
            additional += 1
        }
        out.setInteger(UInt16(clamping: additional), at: out.readerIndex + 10)
        return out
    }
}
