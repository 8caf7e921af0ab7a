import DNSCore
@testable import DNSFrontend
import DNSTestSupport
import DNSWire
import NIOCore
import NIOEmbedded
import Testing

/// A stage that answers names under `known.` at once, passes `pass.` on, and waits for everything else.
struct InstantStage: DNSMiddleware {
    func handle(_ request: DNSRequest, eventLoop: any EventLoop, next: any DNSHandler) -> EventLoopFuture<DNSResponse> {
        next.handle(request, eventLoop: eventLoop)
    }

    func immediateOutcome(for request: DNSRequest) -> DNSImmediateOutcome {
        let name = request.question.name.description
        if name.hasSuffix("known.") {
            var message = request.message
            message.setDNSFlags(request.view.header.flags | DNSHeader.Flag.qr | DNSHeader.Flag.aa)
            return .answer(DNSResponse(message: message, origin: .cache))
        }
        return name.hasSuffix("pass.") ? .pass : .wait
    }
}

@Suite struct ImmediateAnswerTests {
    private func request(_ name: String, id: UInt16 = 1) throws -> DNSRequest {
        let message = TestQueries.query(name, id: id)
        return try #require(DNSRequest(message: message, view: try DNSMessageView(message),
                                       metadata: DNSRequestMetadata(client: nil, transport: .udp),
                                       deadline: .now() + .seconds(5)))
    }

    @Test func pipelineAsksStagesInOrderAndStopsAtTheFirstThatMustWait() throws {
        let held = HeldHandler()
        let answering = DNSPipeline(middlewares: [InstantStage()], terminal: held)
        #expect(answering.begin(try self.request("a.known")).answer != nil)
        #expect(answering.begin(try self.request("a.other")).answer == nil)
        // Every stage passes: nobody can answer at once, so the asynchronous path is needed.
        let chained = DNSPipeline(middlewares: [InstantStage(), InstantStage()], terminal: held)
        #expect(chained.begin(try self.request("x.pass")).answer == nil)
        #expect(DNSPipeline(middlewares: [], terminal: held).begin(try self.request("a.known")).answer == nil)
        #expect(held.held.isEmpty)
    }

    @Test func udpAnswersImmediatelyWithoutTheAsynchronousPath() throws {
        let held = HeldHandler()
        let responder = UDPQueryResponder(pipeline: DNSPipeline(middlewares: [InstantStage()], terminal: held),
                                          queryTimeout: .seconds(5))
        let client = try SocketAddress(ipAddress: "127.0.0.1", port: 4000)
        guard case .reply(let reply) = responder.respond(to: TestQueries.query("a.known", id: 77), from: client) else {
            Issue.record("a known name is answered at once")
            return
        }
        #expect(DNSHeader(reply)?.id == 77)
        #expect(((DNSHeader(reply)?.flags ?? 0) & DNSHeader.Flag.aa) != 0, "answered by the stage, not echoed")
        guard case .later(let pending) = responder.respond(to: TestQueries.query("b.other", id: 78), from: client)
        else {
            Issue.record("another name needs the asynchronous path")
            return
        }
        #expect(pending.request.id == 78)
        #expect(held.held.isEmpty, "nothing reaches the pipeline until the event loop takes the query")
    }

    @Test func tcpAnswersImmediatelyWithoutTheAsynchronousPath() throws {
        let held = HeldHandler()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([
            ByteToMessageHandler(DNSLengthPrefixDecoder()),
            TCPQueryHandler(pipeline: DNSPipeline(middlewares: [InstantStage()], terminal: held),
                            queryTimeout: .seconds(5), maxInFlight: 10, idleTimeout: .seconds(10)),
        ])
        try channel.writeInbound(TestQueries.framed(TestQueries.query("a.known", id: 5)))
        channel.embeddedEventLoop.run()
        var out = try #require(try channel.readOutbound(as: ByteBuffer.self))
        out.moveReaderIndex(forwardBy: 2)
        #expect(DNSHeader(out)?.id == 5)
        #expect(held.held.isEmpty)
    }
}
