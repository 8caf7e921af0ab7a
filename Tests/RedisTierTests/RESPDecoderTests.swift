import NIOCore
import NIOEmbedded
import RedisTier
import Testing
import DNSCore

@Suite struct RESPDecoderTests {
    static let replies = "+OK\r\n-ERR wrong type\r\n:-42\r\n$5\r\nhe\r\no\r\n$-1\r\n$0\r\n\r\n*2\r\n$1\r\na\r\n*1\r\n:7\r\n*-1\r\n"
    static let expected: [RESPValue] = [
        .simpleString("OK"), .error("ERR wrong type"), .integer(-42), .bulkString(ByteBuffer(string: "he\r\no")),
        .bulkString(nil), .bulkString(ByteBuffer()),
        .array([.bulkString(ByteBuffer(string: "a")), .array([.integer(7)])]), .array(nil),
    ]

    /// Every reply type, fed in every possible pair of segments: the decoder never depends on where TCP splits.
    @Test func decodesEveryReplyTypeAcrossAnySegmentBoundary() throws {
        let bytes = Array(Self.replies.utf8)
        for split in 0...bytes.count {
            let channel = EmbeddedChannel(handler: ByteToMessageHandler(RESPDecoder()))
            try channel.writeInbound(ByteBuffer(bytes: bytes[..<split]))
            try channel.writeInbound(ByteBuffer(bytes: bytes[split...]))
            var decoded: [RESPValue] = []
            while let value = try channel.readInbound(as: RESPValue.self) { decoded.append(value) }
            #expect(decoded == Self.expected, "split at \(split)")
            _ = try channel.finish()
        }
    }

    @Test func anIncompleteReplyConsumesNothing() throws {
        var buffer = ByteBuffer(string: "$10\r\nabc")
        #expect(try RESPDecoder.decodeValue(from: &buffer) == nil)
        #expect(buffer.readableBytes == 8)
        buffer.writeString("defghij\r\n")
        #expect(try RESPDecoder.decodeValue(from: &buffer) == .bulkString(ByteBuffer(string: "abcdefghij")))
        #expect(buffer.readableBytes == 0)
    }

    @Test(arguments: [
        "?what\r\n",  // unknown type byte
        ":12x\r\n",  // not an integer
        "$3\r\nabcd\r\n",  // bulk string longer than announced
        "$-2\r\n",  // negative length
        "$99999999\r\n",  // larger than any DNS answer
        "*5000\r\n",  // too many elements
        "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n",  // too deep
        "+OK\rX",  // CR without LF
    ])
    func garbageIsAnErrorNotACrash(_ text: String) {
        var buffer = ByteBuffer(string: text)
        #expect(throws: RESPDecodingError.self) { _ = try RESPDecoder.decodeValue(from: &buffer) }
    }

    @Test func endlessLineIsAnErrorOnceItIsTooLong() {
        var buffer = ByteBuffer(string: "+" + String(repeating: "x", count: 5000))
        #expect(throws: RESPDecodingError.self) { _ = try RESPDecoder.decodeValue(from: &buffer) }
    }

    @Test func commandsAreArraysOfBinarySafeBulkStrings() {
        var buffer = ByteBuffer()
        buffer.writeRESPCommand([ByteBuffer(string: "SET"), ByteBuffer(bytes: [0, 13, 10]), ByteBuffer()])
        #expect(buffer == ByteBuffer(bytes: Array("*3\r\n$3\r\nSET\r\n$3\r\n".utf8) + [0, 13, 10]
            + Array("\r\n$0\r\n\r\n".utf8)))
    }
}

@Suite struct RedisURLTests {
    @Test func partsAndDefaults() throws {
        let plain = try RedisURL("redis://127.0.0.1")
        #expect(plain.host == "127.0.0.1" && plain.port == 6379 && plain.database == 0 && plain.password == nil)
        let full = try RedisURL("redis://cache:s3cret@[::1]:6380/4")
        #expect(full.host == "::1" && full.port == 6380 && full.database == 4)
        #expect(full.username == "cache" && full.password == "s3cret")
        #expect(full.description == "redis://cache:***@[::1]:6380/4")
        let passwordOnly = try RedisURL("redis://:pw@localhost:7000/")
        #expect(passwordOnly.username == nil && passwordOnly.password == "pw" && passwordOnly.port == 7000)
    }

    @Test(arguments: ["http://x", "redis://", "redis://h:0", "redis://h:port", "redis://h/db", "redis://h/70000"])
    func badURLsAreRejected(_ text: String) {
        #expect(throws: RedisURLError.self) { _ = try RedisURL(text) }
    }
}
