public import DNSCore
import DNSWire
public import NIOCore

extension CachedAnswer {
    /// The answer for `request`, `age` seconds after it was stored: the client's ID, RD bit and question spelling,
    /// AD only when the client set DO or AD, every TTL lowered by `age` (or set to `staleTTL` for a stale answer, which also carries Extended DNS Error 3,
    /// Stale Answer, RFC 8914), and an OPT record exactly when the client sent one (RFC 6891 §7).
    public func response(for request: DNSRequest, age: UInt32, staleTTL: UInt32? = nil,
                         allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        let clientHasOPT = request.view.opt != nil
        let keepsOPT = self.optOffset != nil && clientHasOPT
        let length = (self.optOffset != nil && !clientHasOPT) ? (self.optOffset ?? 0) : self.messageLength
        var out = allocator.buffer(capacity: length + 17)
        // Stored messages have at least a header: the flags are always there.
        let flags = self.withBytes { bytes in
            out.writeBytes(UnsafeBufferPointer(rebasing: bytes.prefix(length)))
            return UInt16(bytes[2]) << 8 | UInt16(bytes[3])
        }
        out.setDNSMessageID(request.id)
        // AD only for clients that set DO or AD (RFC 6840 §5.8); the stored copy keeps it for those that do.
        let clientFlags = request.view.header.flags
        let keepsAD = clientFlags & DNSHeader.Flag.ad != 0 || (request.view.opt?.dnssecOK ?? false)
        out.setDNSFlags((flags & ~(DNSHeader.Flag.rd | (keepsAD ? 0 : DNSHeader.Flag.ad)))
                        | (clientFlags & DNSHeader.Flag.rd))
        let name = request.question.name.wire
        if out.readableBytes >= DNSHeader.size + name.count {
            out.setBytes(name, at: out.readerIndex + DNSHeader.size)
        }
        for offset in self.ttlOffsets {
            let index = out.readerIndex + offset
            guard let ttl = out.getInteger(at: index, as: UInt32.self) else { continue }
            out.setInteger(staleTTL ?? (ttl > age ? ttl - age : 0), at: index)
        }
        var additional = out.getInteger(at: out.readerIndex + 10, as: UInt16.self) ?? 0
        let options = staleTTL == nil ? [] : DNSExtendedErrorCode.staleAnswer.option
        if let optOffset = self.optOffset, keepsOPT {
            // The stored OPT record is last and has no options: its RDLENGTH is its last two bytes.
            out.setInteger(UInt16(options.count), at: out.readerIndex + optOffset + 9)
            out.writeBytes(options)
        } else if self.optOffset != nil {
            additional -= 1
        } else if clientHasOPT {
            let dnssecOK: UInt32 = (request.view.opt?.dnssecOK ?? false) ? 0x8000 : 0
            out.writeInteger(UInt8(0))
            out.writeMultipleIntegers(DNSType.opt.rawValue, DNSErrorResponse.advertisedUDPPayloadSize, dnssecOK,
                                      UInt16(options.count))
            out.writeBytes(options)
            additional += 1
        }
        out.setInteger(additional, at: out.readerIndex + 10)
        return out
    }
}
