public import NIOCore

/// A Redis reply in the RESP2 protocol (https://redis.io/docs/latest/develop/reference/protocol-spec/).
public enum RESPValue: Sendable, Hashable {
    case simpleString(String)
    case error(String)
    case integer(Int64)
    /// A bulk string; nil is the null bulk string (`$-1`), which GET returns for a missing key.
    case bulkString(ByteBuffer?)
    /// An array; nil is the null array (`*-1`).
    case array([RESPValue]?)
}

extension ByteBuffer {
    /// Writes `arguments` as one RESP command: an array of bulk strings, binary-safe.
    @discardableResult
    public mutating func writeRESPCommand(_ arguments: [ByteBuffer]) -> Int {
        let start = self.writerIndex
        self.writeString("*\(arguments.count)\r\n")
        for argument in arguments {
            self.writeString("$\(argument.readableBytes)\r\n")
            self.writeImmutableBuffer(argument)
            self.writeStaticString("\r\n")
        }
        return self.writerIndex - start
    }
}
