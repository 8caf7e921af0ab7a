/// Bounds-checked big-endian reads from a message's bytes; every read past the end throws `truncated`.
struct WireReader {
    let bytes: UnsafeRawBufferPointer

    var count: Int { self.bytes.count }

    @inline(__always)
    func u8(at offset: Int) throws(DNSWireError) -> UInt8 {
        guard offset >= 0, offset < self.bytes.count else { throw .truncated(at: offset) }
        return self.bytes[offset]
    }

    @inline(__always)
    func u16(at offset: Int) throws(DNSWireError) -> UInt16 {
        guard offset >= 0, offset + 2 <= self.bytes.count else { throw .truncated(at: offset) }
        return UInt16(self.bytes[offset]) << 8 | UInt16(self.bytes[offset + 1])
    }

    @inline(__always)
    func u32(at offset: Int) throws(DNSWireError) -> UInt32 {
        guard offset >= 0, offset + 4 <= self.bytes.count else { throw .truncated(at: offset) }
        return UInt32(self.bytes[offset]) << 24 | UInt32(self.bytes[offset + 1]) << 16
            | UInt32(self.bytes[offset + 2]) << 8 | UInt32(self.bytes[offset + 3])
    }

    /// Walks the name at `offset`, following compression pointers, and returns where the name's own bytes end.
    ///
    /// Every label is checked: reserved label types, labels over 63 bytes, names over 255 bytes, pointers that do
    /// not point strictly backwards (which also rules out loops). `visit` sees each label's start and length.
    @inline(__always)
    func walkName(at start: Int, visit: (_ labelStart: Int, _ length: Int) -> Void = { _, _ in }) throws(DNSWireError)
        -> Int
    {
        var offset = start
        var end: Int? = nil
        var wireLength = 0
        // The smallest offset reached so far: each pointer must go below it, so a chain cannot revisit a byte.
        var floor = start
        while true {
            let length = try self.u8(at: offset)
            switch length & 0xC0 {
            case 0x00:
                if length == 0 {
                    wireLength += 1
                    guard wireLength <= 255 else { throw .nameTooLong(at: start) }
                    return end ?? offset + 1
                }
                let labelLength = Int(length)
                guard offset + 1 + labelLength <= self.bytes.count else { throw .truncated(at: offset) }
                wireLength += 1 + labelLength
                guard wireLength <= 255 else { throw .nameTooLong(at: start) }
                visit(offset + 1, labelLength)
                offset += 1 + labelLength
            case 0xC0:
                let target = Int(try self.u16(at: offset) & 0x3FFF)
                if end == nil { end = offset + 2 }
                if target == offset { throw .pointerLoop(at: offset) }
                if target > offset { throw .forwardPointer(to: target, at: offset) }
                if target >= floor { throw .pointerLoop(at: offset) }
                floor = target
                offset = target
            case 0x40:
                // A length byte of 64...127: a label longer than 63 bytes (or RFC 2673's withdrawn bit labels).
                throw .labelTooLong(Int(length), at: offset)
            default:
                throw .unknownLabelType(length, at: offset)
            }
        }
    }
}
