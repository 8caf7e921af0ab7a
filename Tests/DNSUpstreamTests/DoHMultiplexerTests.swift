import DNSCore
@testable import DNSUpstream
import DNSWire
import Logging
import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2
import Testing

/// The multiplexer (on nghttp2) on one `EmbeddedChannel`, and an independent HTTP/2 server, swift-nio-http2's
/// `NIOHTTP2Handler` with its header block validation on, on another; the bytes each writes are read by the other.
@Suite struct DoHMultiplexerTests {
    private struct Harness {
        let channel = EmbeddedChannel()
        let server = EmbeddedChannel()
        let multiplexer: DoHMultiplexer
        let method: DoHMethodChoice

        init(usesGET: Bool = false) throws {
            self.method = DoHMethodChoice(configuredGET: usesGET, upstream: "https://upstream.test",
                                          logger: Logger(label: "test"))
            self.multiplexer = try DoHMultiplexer(
                request: .init(authority: "upstream.test:15387", path: "/dns-query", method: self.method),
                maxInFlight: 100, idleTimeout: .seconds(30), upstreamName: "https://upstream.test")
            try self.channel.pipeline.syncOperations.addHandler(self.multiplexer)
            try self.server.pipeline.syncOperations.addHandler(NIOHTTP2Handler(mode: .server))
            try self.channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 443)).wait()
            try self.server.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40000)).wait()
            try self.pump()
            // The client's SETTINGS and its connection window grant (nghttp2 sends the update on stream 0).
            let opening = try self.serverFrames(includingConnection: true)
            #expect(opening.contains { if case .settings = $0.payload { return true } else { return false } })
            #expect(opening.contains { frame in
                if case .windowUpdate(let increment) = frame.payload { return increment >= 1 << 23 }
                return false
            })
        }

        /// Moves bytes between the two channels until neither writes more.
        func pump() throws {
            for _ in 0..<20 {
                self.channel.embeddedEventLoop.run()
                var moved = false
                while let bytes = try self.channel.readOutbound(as: ByteBuffer.self) {
                    try self.server.writeInbound(bytes)
                    moved = true
                }
                self.server.embeddedEventLoop.run()
                while let bytes = try self.server.readOutbound(as: ByteBuffer.self) {
                    try self.channel.writeInbound(bytes)
                    moved = true
                }
                if !moved { return }
            }
        }

        func send(_ name: String, id: UInt16) -> EventLoopFuture<UpstreamAnswer> {
            let dnsName = DNSName(name) ?? .root
            let promise = self.channel.eventLoop.makePromise(of: UpstreamAnswer.self)
            self.multiplexer.send(UpstreamQuery(message: DNSMessage.query(dnsName, .a, id: id).encoded(),
                                                question: DNSQuestion(name: dnsName, type: .a),
                                                deadline: self.channel.embeddedEventLoop.now + .seconds(5)),
                                  promise: promise)
            try? self.pump()
            return promise.futureResult
        }

        /// The frames the server has read so far, those of the streams only unless `includingConnection`.
        func serverFrames(includingConnection: Bool = false) throws -> [HTTP2Frame] {
            var frames: [HTTP2Frame] = []
            while let frame = try self.server.readInbound(as: HTTP2Frame.self) {
                if includingConnection || frame.streamID != .rootStream { frames.append(frame) }
            }
            return frames
        }

        /// The frames written so far on streams.
        func written() throws -> [HTTP2Frame] {
            try self.serverFrames()
        }

        /// Writes `frame` from the server.
        func serve(_ frame: HTTP2Frame) throws {
            try self.server.writeOutbound(frame)
            try self.pump()
        }

        /// Answers `stream` as a DoH server would.
        func reply(on stream: HTTP2StreamID, status: String = "200", type: String = "application/dns-message",
                   name: String, address: UInt8 = 1) throws {
            var answer = DNSMessage.query(DNSName(name) ?? .root, .a, id: 0)
            answer.flags |= DNSHeader.Flag.qr
            answer.answers = [.a(DNSName(name) ?? .root, (192, 0, 2, address), ttl: 60)]
            let body = answer.encoded()
            try self.server.writeOutbound(HTTP2Frame(streamID: stream, payload: .headers(.init(
                headers: HPACKHeaders([(":status", status), ("content-type", type),
                                       ("content-length", "\(body.readableBytes)")])))))
            try self.serve(HTTP2Frame(streamID: stream, payload: .data(.init(data: .byteBuffer(body), endStream: true))))
        }
    }

    private struct TestFailure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    @Test func postsEachQueryOnItsOwnStreamWithIDZeroAndRestoresTheClientsID() throws {
        let harness = try Harness()
        let first = harness.send("a.example.", id: 4321)
        let second = harness.send("b.example.", id: 77)
        let frames = try harness.written()
        #expect(frames.map(\.streamID) == [1, 1, 3, 3])
        guard case .headers(let headers) = frames[0].payload, case .data(let data) = frames[1].payload,
            case .byteBuffer(let body) = data.data
        else { throw TestFailure("expected HEADERS then DATA: \(frames)") }
        #expect(headers.headers.first(name: ":method") == "POST")
        #expect(headers.headers.first(name: ":path") == "/dns-query")
        #expect(headers.headers.first(name: ":authority") == "upstream.test:15387")
        #expect(headers.headers.first(name: "content-type") == "application/dns-message")
        #expect(headers.headers.first(name: "content-length") == "\(body.readableBytes)")
        #expect(data.endStream)
        #expect(body.dnsMessageID == 0, "RFC 8484 §4.1: ID 0 on the wire")

        // Answers come back in any order and are matched by stream.
        try harness.reply(on: 3, name: "b.example.", address: 2)
        try harness.reply(on: 1, name: "a.example.", address: 1)
        let firstAnswer = try DNSMessage(try first.wait().message)
        let secondAnswer = try DNSMessage(try second.wait().message)
        #expect(firstAnswer.id == 4321)
        #expect(secondAnswer.id == 77)
        #expect(firstAnswer.answers.first?.rdata == [192, 0, 2, 1])
        #expect(secondAnswer.answers.first?.rdata == [192, 0, 2, 2])
        #expect(harness.multiplexer.inFlight == 0)
    }

    /// Knot Resolver 5 resets concurrent POST streams: each reset fails that query as retryable (not a sign of
    /// an unwell upstream), and after a few in a row the upstream is asked with GET.
    @Test func postStreamsResetInARowSwitchTheUpstreamToGET() throws {
        let harness = try Harness()
        var futures: [EventLoopFuture<UpstreamAnswer>] = []
        for index in 0..<DoHMethodChoice.resetsBeforeSwitch {
            futures.append(harness.send("r\(index).example.", id: UInt16(index)))
        }
        _ = try harness.written()
        for (index, future) in futures.enumerated() {
            try harness.serve(HTTP2Frame(streamID: HTTP2StreamID(1 + 2 * index), payload: .rstStream(.refusedStream)))
            #expect(throws: UpstreamError.self) { try future.wait() }
            #expect(throws: UpstreamError.streamReset("https://upstream.test", code: "REFUSED_STREAM")) {
                try future.wait()
            }
        }
        #expect(harness.method.switchedToGET)
        _ = harness.send("after.example.", id: 9)
        let frames = try harness.written()
        guard case .headers(let headers) = frames.first?.payload else { throw TestFailure("no HEADERS: \(frames)") }
        #expect(headers.headers.first(name: ":method") == "GET")
        #expect(UpstreamError.kind(of: UpstreamError.streamReset("x", code: "x")) == .streamReset)
        #expect(!UpstreamStatistics.FailureKind.streamReset.saysUpstreamIsUnwell)
    }

    /// An answer body longer than a DNS message can be resets the stream and fails the query as a bad reply.
    @Test func anAnswerBodyOverTheCapResetsTheStream() throws {
        let harness = try Harness()
        let future = harness.send("big.example.", id: 5)
        _ = try harness.written()
        try harness.serve(HTTP2Frame(streamID: 1, payload: .headers(.init(
            headers: HPACKHeaders([(":status", "200"), ("content-type", "application/dns-message")])))))
        for size in [16_384, 16_384, 16_384, 16_383] {
            try harness.serve(HTTP2Frame(streamID: 1, payload: .data(.init(
                data: .byteBuffer(ByteBuffer(repeating: 0, count: size))))))
        }
        #expect(harness.multiplexer.inFlight == 1, "65,535 octets: at the cap, still taken")
        // One octet too many, with more to come: the stream is reset at once, without waiting for its end.
        try harness.serve(HTTP2Frame(streamID: 1, payload: .data(.init(
            data: .byteBuffer(ByteBuffer(repeating: 0, count: 100))))))
        #expect { try future.wait() } throws: { "\($0)".contains("longer than 65535") }
        let frames = try harness.written()
        #expect(frames.contains { frame in
            if case .rstStream(.cancel) = frame.payload { return frame.streamID == 1 }
            return false
        })
        #expect(harness.multiplexer.inFlight == 0)
    }

    /// The blocks that go out put the pseudo-header fields first (RFC 9113 §8.3), each once, then lowercase field
    /// names (the server side validates them too).
    @Test(arguments: [false, true]) func headerBlocksPutEachPseudoHeaderFieldFirstAndOnce(usesGET: Bool) throws {
        let harness = try Harness(usesGET: usesGET)
        _ = harness.send("a.example.", id: 1)
        _ = harness.send("b.example.", id: 2)
        let blocks = try harness.written().compactMap { frame -> HPACKHeaders? in
            guard case .headers(let headers) = frame.payload else { return nil }
            return headers.headers
        }
        #expect(blocks.count == 2)
        for block in blocks {
            let names = block.map { $0.name }
            let pseudo = names.prefix { $0.hasPrefix(":") }
            #expect(pseudo.sorted() == [":authority", ":method", ":path", ":scheme"])
            #expect(!names.dropFirst(pseudo.count).contains { $0.hasPrefix(":") || $0 != $0.lowercased() })
            #expect(block.first(name: "accept") == "application/dns-message")
        }
    }

    @Test func getPutsTheQueryInTheURLAsBase64URL() throws {
        let harness = try Harness(usesGET: true)
        _ = harness.send("www.example.com.", id: 9)
        let frames = try harness.written()
        #expect(frames.count == 1)
        guard case .headers(let headers) = frames.first?.payload else { throw TestFailure("no HEADERS") }
        #expect(headers.endStream)
        #expect(headers.headers.first(name: ":method") == "GET")
        // RFC 8484 §4.1.1's example: www.example.com A with ID 0 and RD set.
        #expect(headers.headers.first(name: ":path") == "/dns-query?dns=AAABAAABAAAAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQAB")
        // The URL-safe alphabet and no padding: 0xFB 0xFF is "+/8=" in plain base64.
        #expect(DoHMultiplexer.base64URL(ByteBuffer(bytes: [0xFB, 0xFF])) == "-_8")
    }

    @Test func anHTTPErrorOrAWrongContentTypeFailsTheQuery() throws {
        let harness = try Harness()
        let refused = harness.send("a.example.", id: 1)
        let mistyped = harness.send("b.example.", id: 2)
        try harness.reply(on: 1, status: "503", name: "a.example.")
        try harness.reply(on: 3, type: "text/html", name: "b.example.")
        #expect(throws: UpstreamError.self) { try refused.wait() }
        #expect(throws: UpstreamError.self) { try mistyped.wait() }
        #expect(harness.multiplexer.inFlight == 0)
    }

    @Test func anAnswerForAnotherQuestionFailsTheQuery() throws {
        let harness = try Harness()
        let future = harness.send("a.example.", id: 1)
        try harness.reply(on: 1, name: "evil.example.")
        #expect(throws: UpstreamError.self) { try future.wait() }
    }

    /// A query past its deadline fails as a timeout and its stream is reset (CANCEL), so that the server's
    /// stream limit is not held by answers nobody waits for.
    @Test func aQueryPastItsDeadlineResetsItsStream() throws {
        let harness = try Harness()
        let late = harness.send("late.example.", id: 3)
        _ = try harness.written()
        harness.channel.embeddedEventLoop.advanceTime(by: .seconds(6))
        try harness.pump()
        #expect(throws: UpstreamError.timeout("https://upstream.test")) { try late.wait() }
        #expect(try harness.written().contains { frame in
            if case .rstStream(.cancel) = frame.payload { return frame.streamID == 1 }
            return false
        })
        #expect(harness.multiplexer.inFlight == 0)
    }

    @Test func goAwayFailsOnlyTheStreamsTheServerNeverProcessed() throws {
        let harness = try Harness()
        let processed = harness.send("a.example.", id: 1)
        let dropped = harness.send("b.example.", id: 2)
        try harness.serve(HTTP2Frame(streamID: .rootStream, payload: .goAway(
            lastStreamID: 1, errorCode: .noError, opaqueData: nil)))
        #expect(throws: UpstreamError.self) { try dropped.wait() }
        #expect(!harness.multiplexer.isOpen)
        try harness.reply(on: 1, name: "a.example.")
        #expect(try DNSMessage(try processed.wait().message).id == 1)
    }
}
