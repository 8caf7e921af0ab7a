import NIOCore

/// A command on its way to Redis and the promise of its reply.
struct RedisCommand {
    var bytes: ByteBuffer
    var promise: EventLoopPromise<RESPValue>

    /// Writes the command to `channel`. A write the channel refuses (it closed before the slot heard of it) fails
    /// the command instead of leaving its promise, and the query waiting on it, behind.
    func write(to channel: any Channel, flush: Bool) {
        let written = channel.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenFailure { [promise] in promise.fail($0) }
        if flush {
            channel.writeAndFlush(self, promise: written)
        } else {
            channel.write(self, promise: written)
        }
    }
}

/// Matches replies to commands: Redis answers each connection's commands in order, so the first reply belongs to
/// the oldest command still waiting. When the connection fails or closes, every waiting command fails with it.
final class RedisCommandHandler: ChannelDuplexHandler {
    typealias InboundIn = RESPValue
    typealias OutboundIn = RedisCommand
    typealias OutboundOut = ByteBuffer

    private var waiting = CircularBuffer<EventLoopPromise<RESPValue>>()

    /// Commands sent and not yet answered.
    var pending: Int { self.waiting.count }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let command = self.unwrapOutboundIn(data)
        self.waiting.append(command.promise)
        context.write(self.wrapOutboundOut(command.bytes), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let reply = self.unwrapInboundIn(data)
        guard let promise = self.waiting.popFirst() else {
            // A reply nobody asked for: the stream can no longer be trusted.
            context.close(promise: nil)
            return
        }
        promise.succeed(reply)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.failAll(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.failAll(RedisError.connectionClosed)
        context.fireChannelInactive()
    }

    private func failAll(_ error: any Error) {
        while let promise = self.waiting.popFirst() { promise.fail(error) }
    }
}
