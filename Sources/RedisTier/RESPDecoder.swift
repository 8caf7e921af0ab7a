public import NIOCore

/// A reply that is not valid RESP, or is larger or deeper than a DNS cache needs; the connection is closed on it.
public struct RESPDecodingError: Error, CustomStringConvertible, Hashable {
    private enum Base: Hashable {
        case bulkLength(Int64)
        case bulkWithoutCRLF
        case arrayCount(Int64, depth: Int)
        case unknownType(UInt8)
        case bareCR
        case lineTooLong(Int)
        case notAnInteger(String)
    }

    private let base: Base

    private init(_ base: Base) {
        self.base = base
    }

    /// A bulk string length that is negative (other than -1) or over the bound.
    public static func bulkLength(_ length: Int64) -> Self { Self(.bulkLength(length)) }
    /// A bulk string not followed by CRLF.
    public static let bulkWithoutCRLF = Self(.bulkWithoutCRLF)
    /// An array too long, or nested too deep.
    public static func arrayCount(_ count: Int64, depth: Int) -> Self { Self(.arrayCount(count, depth: depth)) }
    /// A reply type byte RESP2 does not define.
    public static func unknownType(_ marker: UInt8) -> Self { Self(.unknownType(marker)) }
    /// A CR not followed by LF.
    public static let bareCR = Self(.bareCR)
    /// A line over the bound.
    public static func lineTooLong(_ limit: Int) -> Self { Self(.lineTooLong(limit)) }
    /// An integer reply or length that is not a number (its first 40 characters).
    public static func notAnInteger(_ text: some StringProtocol) -> Self { Self(.notAnInteger(String(text.prefix(40)))) }

    public var description: String {
        switch self.base {
        case .bulkLength(let length): return "bulk string length \(length) out of range"
        case .bulkWithoutCRLF: return "bulk string not followed by CRLF"
        case .arrayCount(let count, let depth): return "array of \(count) at depth \(depth) out of range"
        case .unknownType(let marker): return "unknown reply type byte \(marker)"
        case .bareCR: return "CR not followed by LF"
        case .lineTooLong(let limit): return "line longer than \(limit) bytes"
        case .notAnInteger(let text): return "not an integer: \(text)"
        }
    }
}

/// Decodes RESP2 replies from a byte stream, whatever the segment boundaries. Every length is bounded, so that a
/// server sending garbage costs a closed connection, never unbounded memory.
public struct RESPDecoder: ByteToMessageDecoder {
    public typealias InboundOut = RESPValue

    /// Longest bulk string accepted: cached DNS answers are at most 64 KiB.
    static let maxBulkLength = 1 << 20
    /// Longest simple string, error or integer line.
    static let maxLineLength = 4096
    static let maxArrayCount = 1024
    static let maxDepth = 4

    public init() {}

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let value = try Self.decodeValue(from: &buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(value))
        return .continue
    }

    /// Reads one whole value from `buffer`, or returns nil (consuming nothing) if more bytes are needed.
    public static func decodeValue(from buffer: inout ByteBuffer) throws -> RESPValue? {
        var cursor = buffer.readerIndex
        guard let value = try self.parse(buffer, at: &cursor, depth: 0) else { return nil }
        buffer.moveReaderIndex(to: cursor)
        return value
    }

    private static func parse(_ buffer: ByteBuffer, at cursor: inout Int, depth: Int) throws -> RESPValue? {
        guard let marker = buffer.getInteger(at: cursor, as: UInt8.self) else { return nil }
        guard let line = try self.line(buffer, at: cursor + 1) else { return nil }
        cursor = line.next
        switch marker {
        case UInt8(ascii: "+"):
            return .simpleString(line.text)
        case UInt8(ascii: "-"):
            return .error(line.text)
        case UInt8(ascii: ":"):
            return .integer(try self.integer(line.text))
        case UInt8(ascii: "$"):
            let length = try self.integer(line.text)
            if length == -1 { return .bulkString(nil) }
            guard length >= 0, length <= self.maxBulkLength else {
                throw RESPDecodingError.bulkLength(length)
            }
            let end = cursor + Int(length)
            guard buffer.writerIndex >= end + 2 else { return nil }
            guard buffer.getInteger(at: end, as: UInt16.self) == 0x0D0A else {
                throw RESPDecodingError.bulkWithoutCRLF
            }
            let bytes = buffer.getSlice(at: cursor, length: Int(length))
            cursor = end + 2
            return .bulkString(bytes)
        case UInt8(ascii: "*"):
            let count = try self.integer(line.text)
            if count == -1 { return .array(nil) }
            guard count >= 0, count <= self.maxArrayCount, depth < self.maxDepth else {
                throw RESPDecodingError.arrayCount(count, depth: depth)
            }
            var elements: [RESPValue] = []
            elements.reserveCapacity(Int(count))
            for _ in 0..<count {
                guard let element = try self.parse(buffer, at: &cursor, depth: depth + 1) else { return nil }
                elements.append(element)
            }
            return .array(elements)
        default:
            throw RESPDecodingError.unknownType(marker)
        }
    }

    /// The text up to the next CRLF starting at `start`, and where the next value begins.
    private static func line(_ buffer: ByteBuffer, at start: Int) throws -> (text: String, next: Int)? {
        let available = buffer.writerIndex - start
        guard available > 0 else { return nil }
        let scanned = min(available, self.maxLineLength + 2)
        let crlf = buffer.withUnsafeReadableBytes { bytes -> Int? in
            let base = start - buffer.readerIndex
            var index = base
            while index + 1 < base + scanned {
                if bytes[index] == 0x0D {
                    guard bytes[index + 1] == 0x0A else { return -1 }
                    return index - base
                }
                index += 1
            }
            return nil
        }
        switch crlf {
        case .some(-1):
            throw RESPDecodingError.bareCR
        case .some(let length):
            return (buffer.getString(at: start, length: length) ?? "", start + length + 2)
        case nil:
            if available > self.maxLineLength + 1 {
                throw RESPDecodingError.lineTooLong(self.maxLineLength)
            }
            return nil
        }
    }

    private static func integer(_ text: String) throws -> Int64 {
        guard let value = Int64(text) else { throw RESPDecodingError.notAnInteger(text) }
        return value
    }
}
