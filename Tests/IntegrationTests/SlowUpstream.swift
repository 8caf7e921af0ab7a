import DNSCore
import DNSWire
import NIOCore
import NIOPosix

/// A plain-TCP DNS server on loopback that answers every query with one A record after `delay`, to hold queries in
/// flight on purpose.
final class SlowUpstream: Sendable {
    let port: Int
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let channel: any Channel

    init(port: Int, delay: TimeAmount) throws {
        self.port = port
        self.channel = try ServerBootstrap(group: self.group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(DelayedAnswerer(delay: delay))
                }
            }
            .bind(host: "127.0.0.1", port: port).wait()
    }

    func stop() {
        try? self.channel.close().wait()
        try? self.group.syncShutdownGracefully()
    }

    private struct FrameDecoder: ByteToMessageDecoder {
        typealias InboundOut = ByteBuffer
        mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
            guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self),
                buffer.readableBytes >= 2 + Int(length)
            else { return .needMoreData }
            buffer.moveReaderIndex(forwardBy: 2)
            context.fireChannelRead(Self.wrapInboundOut(buffer.readSlice(length: Int(length)) ?? ByteBuffer()))
            return .continue
        }
    }

    private final class DelayedAnswerer: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let delay: TimeAmount

        init(delay: TimeAmount) {
            self.delay = delay
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard var message = try? DNSMessage(self.unwrapInboundIn(data)), let question = message.questions.first
            else { return }
            message.flags |= DNSHeader.Flag.qr
            message.answers = [.a(question.name, (192, 0, 2, 53), ttl: 60)]
            var framed = ByteBuffer()
            framed.writeLengthPrefixedDNSMessage(message.encoded())
            context.eventLoop.assumeIsolated().scheduleTask(in: self.delay) {
                context.writeAndFlush(self.wrapOutboundOut(framed), promise: nil)
            }
        }
    }
}
