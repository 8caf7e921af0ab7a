import DNSCore
@testable import DNSFrontend
import DNSTestSupport
import DNSWire
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

/// DNS over HTTP/1.1, one request at a time: the request's states, and the idle timeout between requests.
@Suite struct DoHRequestHandlerTests {
    private func makeChannel(_ handler: any DNSHandler = EchoHandler(),
                             idleTimeout: TimeAmount = .seconds(10)) throws -> (EmbeddedChannel, DoHRequestHandler) {
        let channel = EmbeddedChannel()
        let doh = DoHRequestHandler(path: "/dns-query", listener: 0, pipeline: handler, queryTimeout: .seconds(5),
                                    idleTimeout: idleTimeout)
        try channel.pipeline.syncOperations.addHandler(doh)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 443)).wait()
        return (channel, doh)
    }

    private func post(_ channel: EmbeddedChannel, _ query: ByteBuffer, keepAlive: Bool = true) throws {
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/dns-query")
        head.headers.add(name: "content-type", value: "application/dns-message")
        if !keepAlive { head.headers.add(name: "connection", value: "close") }
        try channel.writeInbound(HTTPServerRequestPart.head(head))
        try channel.writeInbound(HTTPServerRequestPart.body(query))
    }

    /// The status of each response written so far.
    private func statuses(_ channel: EmbeddedChannel) throws -> [UInt] {
        channel.embeddedEventLoop.run()
        var statuses: [UInt] = []
        while let part = try channel.readOutbound(as: HTTPServerResponsePart.self) {
            if case .head(let head) = part { statuses.append(head.status.code) }
        }
        return statuses
    }

    @Test func aRequestGoesFromIdleThroughReceivingAndAnsweringBackToIdle() throws {
        let held = HeldHandler()
        let (channel, handler) = try self.makeChannel(held)
        guard case .idle = handler.state else { throw TestFailure("starts idle") }
        try self.post(channel, TestQueries.query("a.example", id: 3))
        guard case .receiving(_, let body, let tooLarge) = handler.state else { throw TestFailure("receiving") }
        #expect(body?.readableBytes == TestQueries.query("a.example", id: 3).readableBytes && !tooLarge)
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
        guard case .answering = handler.state else { throw TestFailure("answering") }
        held.complete { DNSResponse.error(.noError, for: $0) }
        #expect(try self.statuses(channel) == [200])
        guard case .idle = handler.state else { throw TestFailure("idle again") }
        #expect(channel.isActive, "keep-alive")
    }

    @Test func aBodyOverTheCapIsRefusedWith413() throws {
        let (channel, handler) = try self.makeChannel()
        try self.post(channel, ByteBuffer(repeating: 0, count: DoHExchange.maxBody))
        try channel.writeInbound(HTTPServerRequestPart.body(ByteBuffer(repeating: 0, count: 1)))
        guard case .receiving(_, _, true) = handler.state else { throw TestFailure("marked too large") }
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
        #expect(try self.statuses(channel) == [413])
    }

    @Test func anIdleConnectionClosesAfterTheTimeoutButNotWhileAnswering() throws {
        let held = HeldHandler()
        let (channel, _) = try self.makeChannel(held, idleTimeout: .seconds(2))
        try self.post(channel, TestQueries.query("a.example", id: 4))
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
        channel.embeddedEventLoop.advanceTime(by: .seconds(5))
        #expect(channel.isActive, "a request being answered is not idle")
        held.complete { DNSResponse.error(.noError, for: $0) }
        #expect(try self.statuses(channel) == [200])
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1900))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(300))
        #expect(!channel.isActive, "idle for the whole timeout")
    }

    @Test func drainingClosesAnIdleConnectionAtOnceAndABusyOneAfterItsAnswer() throws {
        let (idle, _) = try self.makeChannel()
        idle.pipeline.fireUserInboundEventTriggered(TCPQueryHandler.Drain())
        #expect(!idle.isActive)

        let held = HeldHandler()
        let (busy, _) = try self.makeChannel(held)
        try self.post(busy, TestQueries.query("a.example", id: 5))
        try busy.writeInbound(HTTPServerRequestPart.end(nil))
        busy.pipeline.fireUserInboundEventTriggered(TCPQueryHandler.Drain())
        #expect(busy.isActive)
        held.complete { DNSResponse.error(.noError, for: $0) }
        #expect(try self.statuses(busy) == [200])
        #expect(!busy.isActive)
    }

    private struct TestFailure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}
