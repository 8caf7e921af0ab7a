import NIOCore
import NIOPosix
import NIOTLS
import UpstreamTLS

/// One client connection through ``TLSClientHandler``: what the handshake said and what came back.
final class TLSTestClient {
    let channel: any Channel
    let handler: TLSClientHandler
    let collector: Collector

    init(group: any EventLoopGroup, context: TLSClientContext, serverName: String, port: Int) throws {
        let handler = try TLSClientHandler(context: context, serverName: serverName)
        let collector = Collector(eventLoop: group.next())
        self.handler = handler
        self.collector = collector
        let loop = collector.eventLoop
        self.channel = try ClientBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(handler)
                    try channel.pipeline.syncOperations.addHandler(collector)
                }
            }
            .connect(host: "127.0.0.1", port: port).wait()
    }

    /// Waits for the handshake: the negotiated protocol, or the error that ended it.
    func handshake() throws -> String? {
        try self.collector.handshake.futureResult.wait()
    }

    /// Writes each buffer, flushes once, and waits until `expected` octets have come back.
    func exchange(_ buffers: [ByteBuffer], expecting expected: Int) throws -> ByteBuffer {
        let loop = self.channel.eventLoop
        let done = try loop.submit { () -> EventLoopFuture<ByteBuffer> in
            let promise = loop.makePromise(of: ByteBuffer.self)
            self.collector.waitFor(expected, promise: promise)
            for buffer in buffers { self.channel.write(buffer, promise: nil) }
            self.channel.flush()
            return promise.futureResult
        }.wait()
        return try done.wait()
    }

    func close() {
        try? self.channel.close().wait()
    }

    final class Collector: ChannelInboundHandler, @unchecked Sendable {
        // @unchecked: used on its event loop only, the tests hop there.
        typealias InboundIn = ByteBuffer
        let eventLoop: any EventLoop
        let handshake: EventLoopPromise<String?>
        private var received = ByteBuffer()
        private var wanted: (Int, EventLoopPromise<ByteBuffer>)?

        init(eventLoop: any EventLoop) {
            self.eventLoop = eventLoop
            self.handshake = eventLoop.makePromise()
        }

        func waitFor(_ count: Int, promise: EventLoopPromise<ByteBuffer>) {
            self.wanted = (count, promise)
            self.check()
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case .handshakeCompleted(let negotiated) = event as? TLSUserEvent { self.handshake.succeed(negotiated) }
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = self.unwrapInboundIn(data)
            self.received.writeBuffer(&buffer)
            self.check()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            self.handshake.fail(error)
            self.wanted?.1.fail(error)
        }

        func channelInactive(context: ChannelHandlerContext) {
            self.handshake.fail(ChannelError.ioOnClosedChannel)
            self.wanted?.1.fail(ChannelError.ioOnClosedChannel)
        }

        private func check() {
            guard let (count, promise) = self.wanted, self.received.readableBytes >= count else { return }
            self.wanted = nil
            promise.succeed(self.received)
        }
    }
}
