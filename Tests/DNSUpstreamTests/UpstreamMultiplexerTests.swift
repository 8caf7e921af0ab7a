import DNSCore
@testable import DNSUpstream
import DNSTestSupport
import DNSWire
import NIOCore
import NIOEmbedded
import Testing

@Suite struct UpstreamMultiplexerTests {
    private struct Harness {
        let channel = EmbeddedChannel()
        let multiplexer: UpstreamMultiplexer

        init(framing: UpstreamMultiplexer.Framing = .lengthPrefixed, maxInFlight: Int = 100) throws {
            self.multiplexer = UpstreamMultiplexer(framing: framing, maxInFlight: maxInFlight, idleTimeout: .seconds(30),
                                                   upstreamName: "test")
            if framing == .lengthPrefixed {
                try self.channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(DNSLengthPrefixDecoder()))
            }
            try self.channel.pipeline.syncOperations.addHandler(self.multiplexer)
            try self.channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 853)).wait()
        }

        /// Sends a query for `name` with client ID `id`; returns the answer's future.
        func send(_ name: String, id: UInt16, deadline: TimeAmount = .seconds(5)) -> EventLoopFuture<UpstreamAnswer> {
            let message = DNSMessage.query(DNSName(name) ?? .root, .a, id: id).encoded()
            let promise = self.channel.eventLoop.makePromise(of: UpstreamAnswer.self)
            self.multiplexer.send(UpstreamQuery(message: message, question: DNSQuestion(name: DNSName(name) ?? .root, type: .a),
                                                deadline: self.channel.embeddedEventLoop.now + deadline),
                                  promise: promise)
            self.channel.embeddedEventLoop.run()
            return promise.futureResult
        }

        /// The queries written upstream so far, decoded.
        func written(framed: Bool = true) throws -> [DNSMessage] {
            var messages: [DNSMessage] = []
            while var chunk = try self.channel.readOutbound(as: ByteBuffer.self) {
                if !framed {
                    messages.append(try DNSMessage(chunk))
                    continue
                }
                while let length = chunk.readInteger(as: UInt16.self), let body = chunk.readSlice(length: Int(length)) {
                    messages.append(try DNSMessage(body))
                }
            }
            return messages
        }

        /// Delivers an answer to `query` (with `query`'s ID) carrying one A record.
        func answer(_ query: DNSMessage, name: String? = nil, framed: Bool = true) throws {
            var response = query
            response.flags |= DNSHeader.Flag.qr
            if let name, let other = DNSName(name) { response.questions[0].name = other }
            response.answers = [.a(response.questions[0].name, (192, 0, 2, 1), ttl: 60)]
            try self.channel.writeInbound(framed ? TestFraming.framed(response.encoded()) : response.encoded())
        }
    }

    @Test func collidingClientIDsGetDistinctUpstreamIDsAndAnswersMatchOutOfOrder() throws {
        let harness = try Harness()
        let first = harness.send("one.test", id: 7)
        let second = harness.send("two.test", id: 7)
        let sent = try harness.written()
        #expect(sent.count == 2)
        #expect(sent[0].id != sent[1].id)
        try harness.answer(sent[1])
        try harness.answer(sent[0])
        let secondAnswer = try second.wait()
        let firstAnswer = try first.wait()
        #expect(secondAnswer.message.dnsMessageID == 7)
        #expect(firstAnswer.message.dnsMessageID == 7)
        #expect(try DNSMessage(firstAnswer.message).questions[0].name.description == "one.test.")
        #expect(try DNSMessage(secondAnswer.message).questions[0].name.description == "two.test.")
        #expect(harness.multiplexer.inFlight == 0)
    }

    @Test func answerForAnotherQuestionIsDiscarded() throws {
        let harness = try Harness()
        let future = harness.send("right.test", id: 1)
        let sent = try harness.written()
        try harness.answer(sent[0], name: "wrong.test")
        #expect(harness.multiplexer.inFlight == 1)
        #expect(harness.multiplexer.unmatchedAnswers == 1)
        try harness.answer(sent[0])
        #expect(try future.wait().message.dnsMessageID == 1)
    }

    @Test func answerWithMixedCaseQuestionStillMatches() throws {
        let harness = try Harness()
        let future = harness.send("case.test", id: 1)
        try harness.answer(try harness.written()[0], name: "CaSe.TeSt")
        #expect(try future.wait().view.question?.name.description == "CaSe.TeSt.")
    }

    @Test func answerWithAnUnknownIDIsDiscarded() throws {
        let harness = try Harness()
        _ = harness.send("x.test", id: 1)
        var sent = try harness.written()[0]
        sent.id &+= 1
        try harness.answer(sent)
        #expect(harness.multiplexer.unmatchedAnswers == 1)
        #expect(harness.multiplexer.inFlight == 1)
    }

    @Test func queryFailsAtItsDeadline() throws {
        let harness = try Harness()
        let future = harness.send("slow.test", id: 1, deadline: .milliseconds(500))
        harness.channel.embeddedEventLoop.advanceTime(by: .milliseconds(499))
        #expect(harness.multiplexer.inFlight == 1)
        harness.channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(throws: UpstreamError.timeout("test")) { try future.wait() }
        #expect(harness.multiplexer.inFlight == 0)
    }

    @Test func closingTheConnectionFailsEverythingInFlight() throws {
        let harness = try Harness()
        let futures = (1...3).map { harness.send("x\($0).test", id: UInt16($0)) }
        try harness.channel.close().wait()
        for future in futures {
            #expect(throws: UpstreamError.connectionClosed("test")) { try future.wait() }
        }
        #expect(throws: UpstreamError.connectionClosed("test")) { try harness.send("late.test", id: 9).wait() }
    }

    @Test func refusesBeyondMaxInFlight() throws {
        let harness = try Harness(maxInFlight: 2)
        _ = harness.send("a.test", id: 1)
        _ = harness.send("b.test", id: 2)
        #expect(throws: UpstreamError.busy("test")) { try harness.send("c.test", id: 3).wait() }
    }

    @Test func closesWhenIdleAndNotWhileAnswersAreAwaited() throws {
        let harness = try Harness()
        let future = harness.send("wait.test", id: 1, deadline: .seconds(60))
        harness.channel.embeddedEventLoop.advanceTime(by: .seconds(45))
        #expect(harness.channel.isActive)
        try harness.answer(try harness.written()[0])
        #expect(try future.wait().message.dnsMessageID == 1)
        harness.channel.embeddedEventLoop.advanceTime(by: .seconds(29))
        #expect(harness.channel.isActive)
        harness.channel.embeddedEventLoop.advanceTime(by: .seconds(4))
        #expect(!harness.channel.isActive)
        #expect(!harness.multiplexer.isOpen)
    }

    @Test func datagramFramingHasNoLengthPrefix() throws {
        let harness = try Harness(framing: .datagram)
        let future = harness.send("udp.test", id: 11)
        let sent = try harness.written(framed: false)
        #expect(sent.count == 1)
        try harness.answer(sent[0], framed: false)
        #expect(try future.wait().message.dnsMessageID == 11)
    }
}

enum TestFraming {
    static func framed(_ message: ByteBuffer) -> ByteBuffer {
        var out = ByteBuffer()
        out.writeLengthPrefixedDNSMessage(message)
        return out
    }
}
