import DNSCore
import DNSHTTP2
import NIOCore

/// DNS-over-HTTPS over HTTP/2 (RFC 8484) on libnghttp2: the bytes TLS decrypted go into an ``HTTP2Session``, each
/// complete request comes out and is answered on its stream, and what the session has to send leaves in one write
/// per event loop tick. nghttp2 keeps the streams, HPACK and flow control, refuses streams beyond the advertised
/// limit and cuts off SETTINGS, PING and RST_STREAM floods. The connection closes after the TCP idle timeout
/// without open requests.
final class DoHStreamServer: ChannelInboundHandler, HTTP2SessionDelegate {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let path: String
    /// The listener's ``ListenerAddress/id``.
    private let listener: Int
    private let pipeline: any DNSHandler
    private let queryTimeout: TimeAmount
    private let maxConcurrentStreams: Int
    private let idleTimer: IdleConnectionTimer
    private var session: HTTP2Session?
    private lazy var flusher = TickFlusher { [weak self] context in self?.session?.flushOutput(through: context) }
    /// Requests being answered.
    private var answering = 0
    private var context: ChannelHandlerContext?
    /// The client, read once per connection.
    private var client: SocketAddress?

    init(path: String, listener: Int, pipeline: any DNSHandler, queryTimeout: TimeAmount, idleTimeout: TimeAmount,
         maxConcurrentStreams: Int) {
        self.path = path
        self.listener = listener
        self.pipeline = pipeline
        self.queryTimeout = queryTimeout
        self.maxConcurrentStreams = maxConcurrentStreams
        self.idleTimer = IdleConnectionTimer(timeout: idleTimeout)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.client = context.channel.remoteAddress
        do {
            let session = try HTTP2Session(role: .server,
                                           settings: .init(maxConcurrentStreams: self.maxConcurrentStreams),
                                           allocator: context.channel.allocator)
            session.delegate = self
            self.session = session
            self.flusher.attach(context)
            self.flusher.flushSoon()
        } catch {
            context.close(promise: nil)
            return
        }
        self.idleTimer.start(on: context.eventLoop, isIdle: { self.isIdle }, close: { self.context?.close(promise: nil) })
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.flusher.detach()
        self.idleTimer.stop()
        // The session refers to this handler weakly; dropping it ends the C session.
        self.session = nil
    }

    private var isIdle: Bool { self.answering == 0 && self.session?.hasIncompleteStreams != true }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let session = self.session else { return }
        self.idleTimer.touch(context.eventLoop.now)
        do {
            try session.receive(self.unwrapInboundIn(data))
            self.flusher.flushSoon()
        } catch {
            // A protocol error or a flood: what nghttp2 has to say (GOAWAY) goes out, then the connection closes.
            session.flushOutput(through: context)
            context.close(promise: nil)
        }
    }

    func http2Session(_ session: HTTP2Session, received message: HTTP2Message, on stream: Int32) {
        guard let context = self.context else { return }
        let query = DoHExchange.query(method: message.method ?? "", target: (message.path ?? "")[...],
                                      contentType: message.contentType, body: message.body,
                                      bodyTooLarge: message.bodyTooLarge, path: self.path,
                                      allocator: context.channel.allocator)
        switch query {
        case .failure(let error):
            self.respond(.status(error.code), on: stream)
        case .success(let dnsMessage):
            self.answering += 1
            DoHExchange.answer(dnsMessage, client: self.client, listener: self.listener,
                               pipeline: self.pipeline,
                               queryTimeout: self.queryTimeout, eventLoop: context.eventLoop) { outcome in
                self.answering -= 1
                self.respond(outcome, on: stream)
            }
        }
    }

    func http2Session(_ session: HTTP2Session, closed stream: Int32, errorCode: UInt32) {}

    func http2Session(_ session: HTTP2Session, goAway lastStreamID: Int32) {}

    private func respond(_ outcome: DoHExchange.Outcome, on stream: Int32) {
        guard let session = self.session, let context = self.context else { return }
        switch outcome {
        case .silence:
            session.reset(stream, code: .refusedStream)
        case .status(let code):
            session.respond(on: stream, headers: [HTTP2HeaderField(":status", String(code)),
                                                  HTTP2HeaderField("content-length", "0")], body: nil)
        case .answer(let message, let maxAge):
            session.respond(on: stream, headers: [
                HTTP2HeaderField(":status", "200"), HTTP2HeaderField("content-type", "application/dns-message"),
                // String(_:) of an integer is a small string, kept inline: no allocation, unlike interpolation.
                HTTP2HeaderField("content-length", String(message.readableBytes)),
                HTTP2HeaderField("cache-control", "max-age=" + String(maxAge)),
            ], body: message)
        }
        self.idleTimer.touch(context.eventLoop.now)
        self.flusher.flushSoon()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is TCPQueryHandler.Drain else { return context.fireUserInboundEventTriggered(event) }
        // RFC 9113 §6.8: GOAWAY names the last stream that will be answered; the client opens no more, and the
        // connection closes once the open ones are answered (a finished session closes it).
        self.session?.goAway()
        self.flusher.flushSoon()
    }
}
