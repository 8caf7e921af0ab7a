/// A cached answer's bytes and what describes them, in one allocation sized to fit: the object header, ``Header``,
/// then the message and its TTL offsets. Immutable once made.
final class AnswerBytes: ManagedBuffer<AnswerBytes.Header, UInt8> {
    // Written once in `make`, only read after: safe to share between threads (see `CachedAnswer`).

    struct Header {
        /// Bytes in use: the message and its TTL offsets.
        var count: UInt32
        var messageLength: UInt16
        /// ``noOPT`` when the message has no OPT record.
        var optOffset: UInt16
        var lifetime: UInt32
    }

    /// `optOffset` of a message without OPT (no message is that long: they are stored only up to 65,535 bytes, and
    /// an OPT record takes 11 of them).
    static let noOPT = UInt16.max

    /// Bytes an allocation takes besides the answer's own: the object's header and ``Header``, and malloc's word.
    static let overhead = 16 + MemoryLayout<Header>.stride + 8

    /// A new allocation holding a copy of `bytes`.
    static func make(copying bytes: UnsafeRawBufferPointer, header: Header) -> AnswerBytes {
        let buffer = AnswerBytes.create(minimumCapacity: bytes.count) { _ in header }
        buffer.withUnsafeMutablePointerToElements { elements in
            if let base = bytes.baseAddress { elements.initialize(from: base.assumingMemoryBound(to: UInt8.self),
                                                                  count: bytes.count) }
        }
        // `create` returns the subclass it was called on.
        return unsafeDowncast(buffer, to: AnswerBytes.self)
    }

    /// Calls `body` with the bytes in use.
    func withBytes<Result>(_ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        let count = Int(self.header.count)
        return try self.withUnsafeMutablePointerToElements { try body(UnsafeBufferPointer(start: $0, count: count)) }
    }
}
