import NIOCore
import NIOEmbedded
import NIOPosix
import Testing
@testable import RedisTier

@Suite struct RedisCommandTests {
    /// A connection can close before its slot hears of it; a command written to it then must fail (so the query
    /// waiting on Redis goes upstream) rather than leave its promise behind, which NIO reports as a leak and which
    /// would hang the query.
    @Test func aCommandWrittenToAClosedConnectionFails() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        // A server on loopback that hangs up on every connection at once.
        let server = try ServerBootstrap(group: group)
            .childChannelInitializer { channel in channel.close() }
            .bind(host: "127.0.0.1", port: 0).wait()
        defer { try? server.close().wait() }
        let client = try ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RedisCommandHandler())
                }
            }
            .connect(to: try #require(server.localAddress)).wait()
        try client.closeFuture.wait()
        let promise = client.eventLoop.makePromise(of: RESPValue.self)
        try client.eventLoop.submit {
            RedisCommand(bytes: ByteBuffer(string: "*1\r\n$4\r\nPING\r\n"), promise: promise)
                .write(to: client, flush: true)
        }.wait()
        #expect(throws: ChannelError.self) { try promise.futureResult.wait() }
    }

    @Test func aCommandOnAnOpenConnectionGetsItsReply() throws {
        let channel = EmbeddedChannel(handler: RedisCommandHandler())
        let promise = channel.eventLoop.makePromise(of: RESPValue.self)
        var result: Result<RESPValue, any Error>?
        promise.futureResult.whenComplete { result = $0 }
        RedisCommand(bytes: ByteBuffer(string: "*1\r\n$4\r\nPING\r\n"), promise: promise).write(to: channel, flush: true)
        #expect(result == nil)
        #expect(try channel.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "*1\r\n$4\r\nPING\r\n"))
        try channel.writeInbound(RESPValue.simpleString("PONG"))
        #expect(try #require(result).get() == .simpleString("PONG"))
        _ = try channel.finish()
    }
}
