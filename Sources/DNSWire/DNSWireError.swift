/// An error raised while reading a DNS message from the wire.
///
/// Malformed input is normal traffic for a DNS server, so the codec reports it as a value and never traps.
/// Each error carries the byte offset (from the start of the message) where reading failed.
public struct DNSWireError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Base: Hashable, Sendable {
        case truncated
        case labelTooLong(length: Int)
        case nameTooLong
        case pointerLoop
        case forwardPointer(target: Int)
        case unknownLabelType(byte: UInt8)
        case badOPT(reason: String)
    }

    private let base: Base

    /// Offset from the start of the message at which the problem was found.
    public let offset: Int

    private init(_ base: Base, offset: Int) {
        self.base = base
        self.offset = offset
    }

    /// The message ended before a field that its header or lengths promised.
    public static func truncated(at offset: Int) -> DNSWireError {
        DNSWireError(.truncated, offset: offset)
    }

    /// A name label claims more than 63 bytes.
    public static func labelTooLong(_ length: Int, at offset: Int) -> DNSWireError {
        DNSWireError(.labelTooLong(length: length), offset: offset)
    }

    /// A name is longer than 255 bytes in wire form.
    public static func nameTooLong(at offset: Int) -> DNSWireError {
        DNSWireError(.nameTooLong, offset: offset)
    }

    /// A compression pointer points at itself or back into a chain it came from.
    public static func pointerLoop(at offset: Int) -> DNSWireError {
        DNSWireError(.pointerLoop, offset: offset)
    }

    /// A compression pointer points forward; RFC 1035 allows only prior occurrences.
    public static func forwardPointer(to target: Int, at offset: Int) -> DNSWireError {
        DNSWireError(.forwardPointer(target: target), offset: offset)
    }

    /// A label starts with the reserved bit patterns `01` or `10`.
    public static func unknownLabelType(_ byte: UInt8, at offset: Int) -> DNSWireError {
        DNSWireError(.unknownLabelType(byte: byte), offset: offset)
    }

    /// An OPT pseudo-record breaks RFC 6891 (not at the root, more than one, or malformed options).
    public static func badOPT(_ reason: String, at offset: Int) -> DNSWireError {
        DNSWireError(.badOPT(reason: reason), offset: offset)
    }

    public var description: String {
        switch self.base {
        case .truncated:
            return "DNS message truncated at byte \(self.offset)"
        case .labelTooLong(let length):
            return "DNS name label of \(length) bytes at byte \(self.offset) (at most 63 allowed)"
        case .nameTooLong:
            return "DNS name longer than 255 bytes at byte \(self.offset)"
        case .pointerLoop:
            return "DNS name compression pointer loop at byte \(self.offset)"
        case .forwardPointer(let target):
            return "DNS name compression pointer at byte \(self.offset) points forward to byte \(target)"
        case .unknownLabelType(let byte):
            return "DNS name label type 0x\(String(byte, radix: 16)) at byte \(self.offset) is not supported"
        case .badOPT(let reason):
            return "EDNS OPT record at byte \(self.offset) is invalid: \(reason)"
        }
    }
}
