import DNSCore
import NIOCore

/// Joins two channels on one event loop: what one reads, the other writes. A side stops reading while its partner
/// cannot write (back-pressure), an end of input becomes an end of output on the other side (half-close), and a
/// closed or failed side closes the other. Counts the bytes it reads, and tells the pair's idle timer about every
/// read burst on either side.
final class GlueHandler {
    private var partner: GlueHandler?
    private let idleTimer: IdleConnectionTimer
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    /// The peer ended its input with a FIN: when this channel then closes, its partner still has to deliver what
    /// it holds, and ends with its own EOF instead of an abrupt close.
    private var inputEnded = false
    /// This channel's output was closed because its partner's input ended.
    private var outputEnded = false
    /// The newest write to this handler's channel; writes complete in order, so when it is done, all are.
    private var lastWrite: EventLoopFuture<Void>?
    /// Bytes read from this handler's channel (and so written to the partner's).
    private(set) var bytesRead = 0

    private init(idleTimer: IdleConnectionTimer) {
        self.idleTimer = idleTimer
    }

    /// Two handlers glued to each other, one for each channel, sharing the idle timer that watches the pair.
    static func matchedPair(idleTimer: IdleConnectionTimer) -> (GlueHandler, GlueHandler) {
        let first = GlueHandler(idleTimer: idleTimer)
        let second = GlueHandler(idleTimer: idleTimer)
        first.partner = second
        second.partner = first
        return (first, second)
    }

    private func partnerWrite(_ data: NIOAny) {
        guard let context = self.context else { return }
        let written = context.eventLoop.makePromise(of: Void.self)
        context.write(data, promise: written)
        self.lastWrite = written.futureResult
    }

    private func partnerFlush() {
        self.context?.flush()
    }

    /// Closes the output once everything written before has gone out: closing it at once would fail the writes
    /// still queued behind back-pressure, and the tail of the stream would be lost.
    private func partnerWriteEOF() {
        guard let context = self.context, !self.outputEnded else { return }
        self.outputEnded = true
        context.flush()
        guard let lastWrite = self.lastWrite else { return context.close(mode: .output, promise: nil) }
        lastWrite.assumeIsolated().whenComplete { _ in context.close(mode: .output, promise: nil) }
    }

    private func partnerCloseFull() {
        self.context?.close(promise: nil)
    }

    private func partnerBecameWritable() {
        if self.pendingRead {
            self.pendingRead = false
            self.context?.read()
        }
    }

    private var partnerWritable: Bool {
        self.context?.channel.isWritable ?? false
    }
}

extension GlueHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.bytesRead += self.unwrapInboundIn(data).readableBytes
        self.partner?.partnerWrite(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.idleTimer.touch(context.eventLoop.now)
        self.partner?.partnerFlush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if self.inputEnded { return }
        if self.outputEnded {
            // NIO closes a channel whose output is shut as soon as the peer's FIN arrives, without an inputClosed
            // event first: that is a clean end of input too.
            self.partner?.partnerWriteEOF()
        } else {
            self.partner?.partnerCloseFull()
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            self.inputEnded = true
            self.partner?.partnerWriteEOF()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.partner?.partnerCloseFull()
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { self.partner?.partnerBecameWritable() }
    }

    func read(context: ChannelHandlerContext) {
        if let partner = self.partner, partner.partnerWritable {
            context.read()
        } else {
            self.pendingRead = true
        }
    }
}
