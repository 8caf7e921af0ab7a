import DNSCore
@testable import DNSFrontend
import DNSTestSupport
import DNSWire
import NIOCore
import NIOEmbedded
import Testing

@Suite struct TCPQueryHandlerTests {
    private func makeChannel(_ handler: any DNSHandler, maxInFlight: Int = 100) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([
            ByteToMessageHandler(DNSLengthPrefixDecoder()),
            TCPQueryHandler(pipeline: handler, queryTimeout: .seconds(5), maxInFlight: maxInFlight,
                            idleTimeout: .seconds(10)),
        ])
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 5300)).wait()
        return channel
    }

    /// Reads every framed answer written so far and returns their IDs.
    private func answeredIDs(_ channel: EmbeddedChannel) throws -> [UInt16] {
        channel.embeddedEventLoop.run()
        var ids: [UInt16] = []
        while var chunk = try channel.readOutbound(as: ByteBuffer.self) {
            while let length = chunk.readInteger(as: UInt16.self), let message = chunk.readSlice(length: Int(length)) {
                let header = try #require(DNSHeader(message))
                #expect(header.isResponse)
                ids.append(header.id)
            }
            #expect(chunk.readableBytes == 0)
        }
        return ids
    }

    @Test func framingSurvivesASplitAtEveryByte() throws {
        var stream = TestQueries.framed(TestQueries.query("a.example", id: 1))
        stream.writeImmutableBuffer(TestQueries.framed(TestQueries.query("bb.example", id: 2, udpPayloadSize: 1232)))
        for split in 1..<stream.readableBytes {
            let channel = try self.makeChannel(EchoHandler())
            try channel.writeInbound(stream.getSlice(at: 0, length: split))
            try channel.writeInbound(stream.getSlice(at: split, length: stream.readableBytes - split))
            #expect(try self.answeredIDs(channel) == [1, 2], "split at \(split)")
            _ = try channel.finish()
        }
    }

    @Test func framingSurvivesOneByteAtATime() throws {
        var stream = ByteBuffer()
        for id in UInt16(1)...3 { stream.writeImmutableBuffer(TestQueries.framed(TestQueries.query("x.test", id: id))) }
        let channel = try self.makeChannel(EchoHandler())
        for byte in stream.readableBytesView { try channel.writeInbound(ByteBuffer(bytes: [byte])) }
        #expect(try self.answeredIDs(channel) == [1, 2, 3])
    }

    @Test func pipelinedQueriesAreAnsweredAsTheirAnswersArrive() throws {
        let held = HeldHandler()
        let channel = try self.makeChannel(held)
        var stream = ByteBuffer()
        for id in UInt16(1)...3 { stream.writeImmutableBuffer(TestQueries.framed(TestQueries.query("x.test", id: id))) }
        try channel.writeInbound(stream)
        #expect(held.held.count == 3)
        held.answer(id: 3)
        #expect(try self.answeredIDs(channel) == [3])
        held.answer(id: 1)
        held.answer(id: 2)
        #expect(try self.answeredIDs(channel) == [1, 2])
    }

    @Test func stopsReadingAtTheInFlightCapAndResumes() throws {
        let held = HeldHandler()
        let counter = ReadCounter()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([
            counter, ByteToMessageHandler(DNSLengthPrefixDecoder()),
            TCPQueryHandler(pipeline: held, queryTimeout: .seconds(5), maxInFlight: 2, idleTimeout: .seconds(10)),
        ])
        let handler = try channel.pipeline.syncOperations.handler(type: TCPQueryHandler.self)
        var stream = TestQueries.framed(TestQueries.query("x.test", id: 1))
        stream.writeImmutableBuffer(TestQueries.framed(TestQueries.query("x.test", id: 2)))
        try channel.writeInbound(stream)
        #expect(handler.state == .reading)
        let before = counter.reads
        channel.read()
        #expect(counter.reads == before, "a read at the cap must be held back")
        #expect(handler.state == .readHeld)
        held.answer(id: 1)
        #expect(counter.reads == before + 1, "answering one releases the held read")
        #expect(handler.state == .reading)
        held.answer(id: 2)
    }

    /// Every way into `finishing` (half-close, drain, from `reading` or `readHeld`) takes no more queries and
    /// closes once those taken are answered.
    @Test(arguments: [false, true], [false, true])
    func finishingTakesNoMoreQueriesAndClosesWhenAnswered(drain: Bool, fromReadHeld: Bool) throws {
        let held = HeldHandler()
        let channel = try self.makeChannel(held, maxInFlight: 1)
        let handler = try channel.pipeline.syncOperations.handler(type: TCPQueryHandler.self)
        try channel.writeInbound(TestQueries.framed(TestQueries.query("x.test", id: 1)))
        if fromReadHeld {
            channel.read()
            #expect(handler.state == .readHeld)
        }
        channel.pipeline.fireUserInboundEventTriggered(drain ? TCPQueryHandler.Drain() as Any : ChannelEvent.inputClosed)
        #expect(handler.state == .finishing)
        try channel.writeInbound(TestQueries.framed(TestQueries.query("x.test", id: 2)))
        #expect(held.held.count == 1, "no query is taken once finishing")
        #expect(channel.isActive, "the query in flight is still answered")
        held.answer(id: 1)
        #expect(try self.answeredIDs(channel) == [1])
        #expect(!channel.isActive)
    }

    @Test func aResponseOnTheQueryStreamClosesTheConnection() throws {
        let channel = try self.makeChannel(EchoHandler())
        var response = TestQueries.query("x.test", id: 5)
        response.setDNSFlags(DNSHeader.Flag.qr)
        try channel.writeInbound(TestQueries.framed(response))
        channel.embeddedEventLoop.run()
        #expect(!channel.isActive)
    }

    @Test func aZeroLengthFrameClosesTheConnection() throws {
        let channel = try self.makeChannel(EchoHandler())
        #expect(channel.isActive)
        // The decoder's error reaches the handler, which closes the connection instead of passing it on.
        try channel.writeInbound(ByteBuffer(bytes: [0, 0]))
        channel.embeddedEventLoop.run()
        #expect(!channel.isActive)
    }

    @Test func halfCloseAnswersWhatIsInFlightThenCloses() throws {
        let held = HeldHandler()
        let channel = try self.makeChannel(held)
        try channel.writeInbound(TestQueries.framed(TestQueries.query("x.test", id: 9)))
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(channel.isActive)
        held.answer(id: 9)
        #expect(try self.answeredIDs(channel) == [9])
        #expect(!channel.isActive)
    }

    @Test func malformedQueryGetsFormErrAndTheConnectionStays() throws {
        let channel = try self.makeChannel(EchoHandler())
        try channel.writeInbound(TestQueries.framed(ByteBuffer(bytes: [0, 7, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0])))
        channel.embeddedEventLoop.run()
        var out = try #require(try channel.readOutbound(as: ByteBuffer.self))
        out.moveReaderIndex(forwardBy: 2)
        #expect(DNSHeader(out)?.rcodeLow == 1)
        #expect(DNSHeader(out)?.id == 7)
        #expect(channel.isActive)
    }

    @Test func idleConnectionClosesAfterTheTimeoutButNotWithAQueryOpen() throws {
        let held = HeldHandler()
        let channel = try self.makeChannel(held)
        channel.embeddedEventLoop.advanceTime(by: .seconds(9))
        #expect(channel.isActive)
        try channel.writeInbound(TestQueries.framed(TestQueries.query("x.test", id: 1)))
        channel.embeddedEventLoop.advanceTime(by: .seconds(30))
        #expect(channel.isActive, "a connection waiting for an answer is not idle")
        held.answer(id: 1)
        channel.embeddedEventLoop.advanceTime(by: .seconds(9))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(!channel.isActive)
    }
}
