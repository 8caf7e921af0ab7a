public import NIOCore

/// Splits a DNS-over-TCP byte stream into messages (RFC 1035 §4.2.2, RFC 7766 §8): each message is preceded by
/// its length as a 16-bit big-endian number. Survives any segment boundary; a zero length is a protocol error.
public struct DNSLengthPrefixDecoder: ByteToMessageDecoder {
    public typealias InboundOut = ByteBuffer

    public init() {}

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self) else { return .needMoreData }
        guard length > 0 else { throw DNSFramingError.zeroLength }
        guard buffer.readableBytes >= 2 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 2)
        // A slice would pin the whole receive buffer for as long as the query is in flight; copy the message.
        guard let slice = buffer.readSlice(length: Int(length)) else { return .needMoreData }
        var message = context.channel.allocator.buffer(capacity: slice.readableBytes)
        message.writeImmutableBuffer(slice)
        context.fireChannelRead(Self.wrapInboundOut(message))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws
        -> DecodingState
    {
        while try self.decode(context: context, buffer: &buffer) == .continue {}
        // A partial message at EOF is dropped: the peer cannot be waiting for its answer.
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return .needMoreData
    }
}

/// A DNS-over-TCP stream that breaks the framing rules.
public struct DNSFramingError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Base: Hashable, Sendable {
        case zeroLength
    }

    private let base: Base

    private init(_ base: Base) {
        self.base = base
    }

    /// A message length of zero, which no DNS message can have.
    public static let zeroLength = DNSFramingError(.zeroLength)

    public var description: String {
        switch self.base {
        case .zeroLength: return "DNS-over-TCP message with length 0"
        }
    }
}

extension ByteBuffer {
    /// Appends `message` preceded by its 16-bit length, as DNS over TCP and TLS frame it.
    public mutating func writeLengthPrefixedDNSMessage(_ message: ByteBuffer) {
        self.writeInteger(UInt16(clamping: message.readableBytes))
        var message = message
        self.writeBuffer(&message)
    }
}
