public import NIOCore

extension ByteBuffer {
    /// The name at `offset` from the message start (the reader index), with compression pointers followed, as an
    /// uncompressed ``DNSName``; nil when it is malformed or runs past the end.
    public func dnsName(at offset: Int) -> DNSName? {
        self.withUnsafeReadableBytes { bytes -> DNSName? in
            let reader = WireReader(bytes: bytes)
            var wire: [UInt8] = []
            do {
                _ = try reader.walkName(at: offset) { start, length in
                    wire.append(UInt8(length))
                    wire.append(contentsOf: bytes[start..<(start + length)])
                }
            } catch {
                return nil
            }
            wire.append(0)
            return DNSName(validatedWire: wire)
        }
    }
}
