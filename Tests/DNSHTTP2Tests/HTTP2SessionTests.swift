import DNSHTTP2
import NIOCore
import Testing

/// Two ``HTTP2Session``s, a client and a server, talking through byte buffers: what one writes the other reads.
@Suite struct HTTP2SessionTests {
    /// Records what a session's delegate hears.
    final class Recorder: HTTP2SessionDelegate {
        var messages: [Int32: HTTP2Message] = [:]
        var closed: [Int32: UInt32] = [:]
        var goAway: Int32?

        func http2Session(_ session: HTTP2Session, received message: HTTP2Message, on stream: Int32) {
            self.messages[stream] = message
        }

        func http2Session(_ session: HTTP2Session, closed stream: Int32, errorCode: UInt32) {
            self.closed[stream] = errorCode
        }

        func http2Session(_ session: HTTP2Session, goAway lastStreamID: Int32) {
            self.goAway = lastStreamID
        }
    }

    struct Pair {
        let client: HTTP2Session
        let server: HTTP2Session
        let clientEvents = Recorder()
        let serverEvents = Recorder()

        init(maxConcurrentStreams: Int = 100, clientMaxBody: Int = 65_535) throws {
            self.client = try HTTP2Session(role: .client,
                                           settings: .init(maxConcurrentStreams: 100, maxBody: clientMaxBody),
                                           allocator: ByteBufferAllocator())
            self.server = try HTTP2Session(role: .server, settings: .init(maxConcurrentStreams: maxConcurrentStreams),
                                           allocator: ByteBufferAllocator())
            self.client.delegate = self.clientEvents
            self.server.delegate = self.serverEvents
        }

        /// Moves bytes both ways until neither side has anything to send.
        func exchange() throws {
            for _ in 0..<10 {
                var toServer = ByteBuffer()
                var toClient = ByteBuffer()
                try self.client.drainOutput(into: &toServer)
                if toServer.readableBytes > 0 { try self.server.receive(toServer) }
                try self.server.drainOutput(into: &toClient)
                if toClient.readableBytes > 0 { try self.client.receive(toClient) }
                if toServer.readableBytes == 0 && toClient.readableBytes == 0 { return }
            }
        }
    }

    static let getHeaders = [HTTP2HeaderField(":method", "GET"), HTTP2HeaderField(":scheme", "https"),
                             HTTP2HeaderField(":authority", "doh.test"), HTTP2HeaderField(":path", "/dns-query?dns=AA")]

    @Test func aRequestAndItsResponseCrossWithTheirHeadersAndBody() throws {
        let pair = try Pair()
        let stream = try #require(pair.client.request(headers: Self.getHeaders, body: nil))
        try pair.exchange()
        let request = try #require(pair.serverEvents.messages[stream])
        #expect(request.method == "GET" && request.path == "/dns-query?dns=AA" && request.body == nil)
        let body = ByteBuffer(bytes: [1, 2, 3, 4])
        #expect(pair.server.respond(on: stream, headers: [
            HTTP2HeaderField(":status", "200"), HTTP2HeaderField("content-type", "application/dns-message"),
            HTTP2HeaderField("content-length", "4"),
        ], body: body))
        try pair.exchange()
        let response = try #require(pair.clientEvents.messages[stream])
        #expect(response.status == "200" && response.contentType == "application/dns-message")
        #expect(response.body == body)
        #expect(pair.clientEvents.closed[stream] == 0 && pair.serverEvents.closed[stream] == 0)
        // The stream is closed: a second response is not sent.
        #expect(!pair.server.respond(on: stream, headers: [HTTP2HeaderField(":status", "200")], body: nil))
    }

    @Test func aPOSTBodyArrivesWholeAndOneOverTheLimitIsFlagged() throws {
        let pair = try Pair()
        let post = [HTTP2HeaderField(":method", "POST"), HTTP2HeaderField(":scheme", "https"),
                    HTTP2HeaderField(":authority", "doh.test"), HTTP2HeaderField(":path", "/dns-query"),
                    HTTP2HeaderField("content-type", "application/dns-message")]
        let small = try #require(pair.client.request(headers: post, body: ByteBuffer(repeating: 7, count: 300)))
        let large = try #require(pair.client.request(headers: post, body: ByteBuffer(repeating: 7, count: 65_536)))
        try pair.exchange()
        try pair.exchange()
        #expect(pair.serverEvents.messages[small]?.body == ByteBuffer(repeating: 7, count: 300))
        #expect(pair.serverEvents.messages[small]?.contentType == "application/dns-message")
        #expect(pair.serverEvents.messages[large]?.bodyTooLarge == true)
        #expect(pair.serverEvents.messages[large]?.body == nil)
    }

    @Test func aClientResetsAResponseBodyOverItsLimit() throws {
        let pair = try Pair(clientMaxBody: 100)
        let stream = try #require(pair.client.request(headers: Self.getHeaders, body: nil))
        try pair.exchange()
        pair.server.respond(on: stream, headers: [HTTP2HeaderField(":status", "200")],
                            body: ByteBuffer(repeating: 1, count: 1_000))
        try pair.exchange()
        #expect(pair.clientEvents.messages[stream]?.bodyTooLarge == true)
        // The client closed the stream with CANCEL (8).
        #expect(pair.clientEvents.closed[stream] == 8)
    }

    @Test func theServerAdvertisesItsStreamLimitAndRefusesStreamsBeyondIt() throws {
        let pair = try Pair(maxConcurrentStreams: 3)
        var first = ByteBuffer()
        try pair.server.drainOutput(into: &first)
        // SETTINGS_MAX_CONCURRENT_STREAMS (3) says 3, not nghttp2's 6.
        #expect(try Self.settings(in: first, at: 0)[3] == 3)
        try pair.client.receive(first)
        // The client (nghttp2, which keeps to the limit) is fed raw requests by a second, unlimited client.
        let rogue = try HTTP2Session(role: .client, settings: .init(maxConcurrentStreams: 100),
                                     allocator: ByteBufferAllocator())
        let rogueEvents = Recorder()
        rogue.delegate = rogueEvents
        var opening = ByteBuffer()
        try rogue.drainOutput(into: &opening)
        for _ in 0..<5 { _ = rogue.request(headers: Self.getHeaders, body: nil) }
        try rogue.drainOutput(into: &opening)
        try pair.server.receive(opening)
        // Streams 1, 3 and 5 are open and waiting; 7 and 9 were refused, and the connection goes on.
        #expect(Set(pair.serverEvents.messages.keys) == [1, 3, 5])
        var answer = ByteBuffer()
        try pair.server.drainOutput(into: &answer)
        try rogue.receive(first)  // the server's preface
        try rogue.receive(answer)
        #expect(rogueEvents.closed == [7: 7, 9: 7])
        #expect(!pair.server.isFinished)
    }

    @Test func aClientRefusesPushedStreams() throws {
        let client = try HTTP2Session(role: .client, settings: .init(maxConcurrentStreams: 100),
                                      allocator: ByteBufferAllocator())
        var opening = ByteBuffer()
        try client.drainOutput(into: &opening)
        // After the 24-octet connection preface: SETTINGS_ENABLE_PUSH (2) is 0.
        #expect(try Self.settings(in: opening, at: 24)[2] == 0)
    }

    /// The entries of the SETTINGS frame at `start` in `buffer`, by identifier.
    private static func settings(in buffer: ByteBuffer, at start: Int) throws -> [UInt16: UInt32] {
        // The frame type (octet 3) is SETTINGS (4).
        try #require(buffer.getInteger(at: start + 3, as: UInt8.self) == 4)
        let length = Int(try #require(buffer.getInteger(at: start, as: UInt32.self)) >> 8)
        var entries: [UInt16: UInt32] = [:]
        for offset in stride(from: start + 9, to: start + 9 + length, by: 6) {
            let id = try #require(buffer.getInteger(at: offset, as: UInt16.self))
            entries[id] = try #require(buffer.getInteger(at: offset + 2, as: UInt32.self))
        }
        return entries
    }

    @Test func goAwayNamesTheLastStreamAndTheSessionFinishesOnceItIsAnswered() throws {
        let pair = try Pair()
        let stream = try #require(pair.client.request(headers: Self.getHeaders, body: nil))
        try pair.exchange()
        pair.server.goAway()
        try pair.exchange()
        #expect(pair.clientEvents.goAway == stream)
        #expect(!pair.server.isFinished)
        pair.server.respond(on: stream, headers: [HTTP2HeaderField(":status", "204")], body: nil)
        try pair.exchange()
        #expect(pair.clientEvents.messages[stream]?.status == "204")
        #expect(pair.server.isFinished)
    }

    @Test func bytesThatAreNotHTTP2EndTheSession() throws {
        let pair = try Pair()
        #expect(throws: HTTP2SessionError.self) {
            try pair.server.receive(ByteBuffer(string: "GET / HTTP/1.1\r\nhost: x\r\n\r\n"))
        }
    }
}
