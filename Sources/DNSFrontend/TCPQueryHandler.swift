import DNSCore
import DNSWire
import NIOCore

/// Serves one DNS-over-TCP or DNS-over-TLS connection (RFC 7766, RFC 7858): many queries, pipelined, each answered as soon as its answer is
/// ready, in any order. Reading pauses while the connection has `maxInFlight` queries open or the client is not
/// reading its answers; the connection closes when idle, when the client half-closes and everything is answered,
/// or on a framing error.
final class TCPQueryHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Sent down the pipeline to make the connection finish what it has and close.
    struct Drain {}

    /// Where the connection stands. `reading` ⇄ `readHeld` as the client's queries and its reading of answers allow;
    /// either → `finishing` when the client half-closes or shutdown drains the connection, which then closes once
    /// every query taken is answered.
    enum State: Equatable {
        /// Reading queries whenever the channel asks.
        case reading
        /// Reads paused: `maxInFlight` queries open, or the client not reading its answers.
        case readHeld
        /// No more queries taken; closing once those in flight are answered.
        case finishing
    }

    private let pipeline: any DNSHandler
    /// `.tcp`, or `.tls` behind a TLS handler (whose answers are padded for clients that pad).
    private let transport: DNSTransport
    /// The listener's ``ListenerAddress/id``.
    private let listener: Int
    private let queryTimeout: TimeAmount
    private let maxInFlight: Int
    private let flusher = TickFlusher()
    private let idleTimer: IdleConnectionTimer
    private var context: ChannelHandlerContext?
    private var inFlight = 0
    private(set) var state = State.reading

    init(pipeline: any DNSHandler, transport: DNSTransport = .tcp, listener: Int = 0, queryTimeout: TimeAmount,
         maxInFlight: Int, idleTimeout: TimeAmount) {
        self.pipeline = pipeline
        self.transport = transport
        self.listener = listener
        self.queryTimeout = queryTimeout
        self.maxInFlight = maxInFlight
        self.idleTimer = IdleConnectionTimer(timeout: idleTimeout)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.flusher.attach(context)
        if context.channel.isActive { self.startIdleTimer(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.flusher.detach()
        self.idleTimer.stop()
    }

    func channelActive(context: ChannelHandlerContext) {
        self.startIdleTimer(context: context)
        context.fireChannelActive()
    }

    /// RFC 7766 §6.2.3: the server closes idle connections; one with queries open is not idle.
    private func startIdleTimer(context: ChannelHandlerContext) {
        self.idleTimer.start(on: context.eventLoop, isIdle: { self.inFlight == 0 }, close: {
            self.context?.close(promise: nil)
        })
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let message = self.unwrapInboundIn(data)
        guard self.state != .finishing else { return }
        self.idleTimer.touch(context.eventLoop.now)
        let metadata = DNSRequestMetadata(client: context.channel.remoteAddress, transport: self.transport,
                                          listener: self.listener)
        switch QueryIntake(message: message, metadata: metadata, deadline: .now() + self.queryTimeout) {
        case .drop:
            // A response, or bytes that are not DNS at all: nothing on this stream can be trusted any more.
            context.close(promise: nil)
        case .reply(let reply):
            self.send(reply)
        case .request(let request):
            let pending: DNSPendingQuery
            switch self.pipeline.begin(request) {
            case .answered(let response): return self.send(response.message, for: request)
            case .pending(let query): pending = query
            }
            self.inFlight += 1
            pending.finish(on: context.eventLoop).assumeIsolated().whenComplete { result in
                self.inFlight -= 1
                switch result {
                case .success(let response): self.send(response.message, for: request)
                case .failure: self.send(DNSResponse.error(.servFail, for: request).message, for: request)
                }
                self.resumeReadingIfPossible()
                self.closeIfFinished()
            }
        }
    }

    private func send(_ message: ByteBuffer, for request: DNSRequest) {
        self.send(self.transport == .tls ? EncryptedAnswerPadding.apply(message, for: request) : message)
    }

    private func send(_ message: ByteBuffer) {
        guard let context = self.context else { return }
        guard message.readableBytes > 0 else {
            // Silence (a refused or rate-limited client, configured to get nothing): over a stream, that means
            // closing it.
            context.flush()
            context.close(promise: nil)
            return
        }
        var framed = context.channel.allocator.buffer(capacity: message.readableBytes + 2)
        framed.writeLengthPrefixedDNSMessage(message)
        context.write(self.wrapOutboundOut(framed), promise: nil)
        self.idleTimer.touch(context.eventLoop.now)
        self.flusher.flushSoon()
    }

    func read(context: ChannelHandlerContext) {
        switch self.state {
        case .finishing, .readHeld:
            return
        case .reading where self.inFlight >= self.maxInFlight || !context.channel.isWritable:
            self.state = .readHeld
        case .reading:
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.resumeReadingIfPossible()
        context.fireChannelWritabilityChanged()
    }

    private func resumeReadingIfPossible() {
        guard self.state == .readHeld, let context = self.context, self.inFlight < self.maxInFlight,
            context.channel.isWritable
        else { return }
        self.state = .reading
        context.read()
    }

    private func closeIfFinished() {
        guard self.inFlight == 0, self.state == .finishing, let context = self.context else { return }
        // Flush first: answers written in this tick are still waiting for the scheduled flush.
        context.flush()
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case ChannelEvent.inputClosed, is Drain:
            self.state = .finishing
            self.closeIfFinished()
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Framing errors and resets: the stream is unusable.
        context.close(promise: nil)
    }
}
