import DNSCore
import NIOCore
import NIOEmbedded
import Testing
@testable import TransparentProxy

/// The relay between a client's and a dialled channel: bytes each way with counts, a closed side closing the other,
/// and the one idle timer both sides keep alive.
@Suite struct GlueHandlerTests {
    struct Pair {
        let loop = EmbeddedEventLoop()
        let client: EmbeddedChannel
        let upstream: EmbeddedChannel
        let clientGlue: GlueHandler
        let upstreamGlue: GlueHandler
        let timer: IdleConnectionTimer

        init(idleTimeout: TimeAmount = .seconds(10)) throws {
            self.client = EmbeddedChannel(loop: self.loop)
            self.upstream = EmbeddedChannel(loop: self.loop)
            self.timer = IdleConnectionTimer(timeout: idleTimeout)
            (self.clientGlue, self.upstreamGlue) = GlueHandler.matchedPair(idleTimer: self.timer)
            try self.client.pipeline.syncOperations.addHandler(self.clientGlue)
            try self.upstream.pipeline.syncOperations.addHandler(self.upstreamGlue)
            for channel in [self.client, self.upstream] {
                try channel.connect(to: SocketAddress(ipAddress: "192.0.2.1", port: 1)).wait()
            }
            let (client, upstream) = (self.client, self.upstream)
            self.timer.start(on: self.loop, isIdle: { true }, close: {
                client.close(promise: nil)
                upstream.close(promise: nil)
            })
        }

        func received(_ channel: EmbeddedChannel) throws -> String {
            var text = ""
            while var buffer = try channel.readOutbound(as: ByteBuffer.self) {
                text += buffer.readString(length: buffer.readableBytes) ?? ""
            }
            return text
        }
    }

    @Test func bytesCrossBothWaysAndAreCountedPerSide() throws {
        let pair = try Pair()
        try pair.client.writeInbound(ByteBuffer(string: "hello "))
        try pair.client.writeInbound(ByteBuffer(string: "upstream"))
        try pair.upstream.writeInbound(ByteBuffer(string: "hi"))
        #expect(try pair.received(pair.upstream) == "hello upstream")
        #expect(try pair.received(pair.client) == "hi")
        #expect(pair.clientGlue.bytesRead == 14)
        #expect(pair.upstreamGlue.bytesRead == 2)
    }

    @Test func aClosedSideClosesItsPartner() throws {
        let pair = try Pair()
        try pair.upstream.close().wait()
        pair.loop.run()
        #expect(!pair.client.isActive)
    }

    @Test func readsOnEitherSideKeepThePairOpenUntilItHasBeenIdleForTheWholeTimeout() throws {
        let pair = try Pair(idleTimeout: .seconds(10))
        pair.loop.advanceTime(by: .seconds(8))
        try pair.upstream.writeInbound(ByteBuffer(string: "x"))
        pair.loop.advanceTime(by: .seconds(8))
        try pair.client.writeInbound(ByteBuffer(string: "y"))
        pair.loop.advanceTime(by: .seconds(9))
        #expect(pair.client.isActive && pair.upstream.isActive)
        pair.loop.advanceTime(by: .seconds(1))
        #expect(!pair.client.isActive && !pair.upstream.isActive)
    }

    @Test func restartingTheTimerLeavesNoSecondTimerBehind() throws {
        let loop = EmbeddedEventLoop()
        let timer = IdleConnectionTimer(timeout: .seconds(10))
        var closes = 0
        timer.start(on: loop, isIdle: { true }, close: { closes += 1 })
        loop.advanceTime(by: .seconds(5))
        timer.start(on: loop, isIdle: { true }, close: { closes += 1 })
        loop.advanceTime(by: .seconds(6))
        #expect(closes == 0)
        loop.advanceTime(by: .seconds(4))
        #expect(closes == 1)
        loop.advanceTime(by: .seconds(60))
        #expect(closes == 1)
    }
}
