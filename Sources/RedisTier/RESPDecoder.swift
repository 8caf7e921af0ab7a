public import NIOCore

/// A reply that is not valid RESP, or is larger or deeper than a DNS cache needs; the connection is closed on it.
public struct RESPDecodingError: Error, CustomStringConvertible, Hashable {
    public let description: String
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
                throw RESPDecodingError(description: "bulk string length \(length) out of range")
            }
            let end = cursor + Int(length)
            guard buffer.writerIndex >= end + 2 else { return nil }
            guard buffer.getInteger(at: end, as: UInt16.self) == 0x0D0A else {
                throw RESPDecodingError(description: "bulk string not followed by CRLF")
            }
            let bytes = buffer.getSlice(at: cursor, length: Int(length))
            cursor = end + 2
            return .bulkString(bytes)
        case UInt8(ascii: "*"):
            let count = try self.integer(line.text)
            if count == -1 { return .array(nil) }
            guard count >= 0, count <= self.maxArrayCount, depth < self.maxDepth else {
                throw RESPDecodingError(description: "array of \(count) at depth \(depth) out of range")
            }
            var elements: [RESPValue] = []
            elements.reserveCapacity(Int(count))
            for _ in 0..<count {
                guard let element = try self.parse(buffer, at: &cursor, depth: depth + 1) else { return nil }
                elements.append(element)
            }
            return .array(elements)
        default:
            throw RESPDecodingError(description: "unknown reply type byte \(marker)")
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
            throw RESPDecodingError(description: "CR not followed by LF")
        case .some(let length):
            return (buffer.getString(at: start, length: length) ?? "", start + length + 2)
        case nil:
            if available > self.maxLineLength + 1 {
                throw RESPDecodingError(description: "line longer than \(self.maxLineLength) bytes")
            }
            return nil
        }
    }

    private static func integer(_ text: String) throws -> Int64 {
        guard let value = Int64(text) else { throw RESPDecodingError(description: "not an integer: \(text.prefix(40))") }
        return value
    }
}
