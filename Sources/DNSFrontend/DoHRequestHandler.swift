import DNSCore
import NIOCore
import NIOHTTP1

/// DNS-over-HTTPS over HTTP/1.1 (RFC 8484; HTTP/2 goes to ``DoHStreamServer``): one request at a time on a
/// connection, each answered through ``DoHExchange``. A connection with no request for the TCP idle timeout is
/// closed.
final class DoHRequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let path: String
    /// The listener's ``ListenerAddress/id``.
    private let listener: Int
    private let pipeline: any DNSHandler
    private let queryTimeout: TimeAmount

    /// Where the connection's current request stands: `idle` → `receiving` (head read) → `answering` (end read) →
    /// `idle` (answer written).
    enum State {
        /// Between requests.
        case idle
        /// The head is read; the body comes, up to ``DoHExchange/maxBody``.
        case receiving(HTTPRequestHead, body: ByteBuffer?, tooLarge: Bool)
        /// The request is whole and being answered.
        case answering
    }

    private(set) var state = State.idle
    /// Shutting down: no request after the one in progress; closed at once when idle.
    private var draining = false
    private let idleTimer: IdleConnectionTimer

    init(path: String, listener: Int, pipeline: any DNSHandler, queryTimeout: TimeAmount, idleTimeout: TimeAmount) {
        self.path = path
        self.listener = listener
        self.pipeline = pipeline
        self.queryTimeout = queryTimeout
        self.idleTimer = IdleConnectionTimer(timeout: idleTimeout)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { self.startIdleTimer(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.startIdleTimer(context: context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.idleTimer.stop()
    }

    private func startIdleTimer(context: ChannelHandlerContext) {
        self.idleTimer.start(on: context.eventLoop, isIdle: { self.isIdle }, close: {
            context.close(promise: nil)
        })
    }

    private var isIdle: Bool {
        if case .idle = self.state { return true }
        return false
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.idleTimer.touch(context.eventLoop.now)
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            guard self.isIdle else { return }
            self.state = .receiving(head, body: nil, tooLarge: false)
        case .body(var chunk):
            guard case .receiving(let head, var body, var tooLarge) = self.state else { return }
            // Let go of the state's reference first, so that the body grows in place.
            self.state = .answering
            if (body?.readableBytes ?? 0) + chunk.readableBytes > DoHExchange.maxBody {
                tooLarge = true
            } else if body == nil {
                body = chunk
            } else {
                body?.writeBuffer(&chunk)
            }
            self.state = .receiving(head, body: body, tooLarge: tooLarge)
        case .end:
            guard case .receiving(let head, let body, let tooLarge) = self.state else { return }
            self.state = .answering
            self.serve(head, body: body, tooLarge: tooLarge, context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is TCPQueryHandler.Drain else { return context.fireUserInboundEventTriggered(event) }
        self.draining = true
        if self.isIdle { context.close(promise: nil) }
    }

    private func serve(_ head: HTTPRequestHead, body: ByteBuffer?, tooLarge: Bool, context: ChannelHandlerContext) {
        let query = DoHExchange.query(method: head.method.rawValue, target: head.uri[...],
                                      contentType: head.headers.first(name: "content-type"), body: body,
                                      bodyTooLarge: tooLarge, path: self.path,
                                      allocator: context.channel.allocator)
        switch query {
        case .failure(let error):
            self.respond(.status(error.code), head: head, context: context)
        case .success(let message):
            DoHExchange.answer(message, client: context.channel.remoteAddress, listener: self.listener,
                               pipeline: self.pipeline,
                               queryTimeout: self.queryTimeout, eventLoop: context.eventLoop) { outcome in
                self.respond(outcome, head: head, context: context)
            }
        }
    }

    private func respond(_ outcome: DoHExchange.Outcome, head request: HTTPRequestHead, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        let status: HTTPResponseStatus
        var body: ByteBuffer?
        switch outcome {
        case .silence:
            return context.close(promise: nil)
        case .status(let code):
            status = HTTPResponseStatus(statusCode: code)
            headers.add(name: "content-length", value: "0")
        case .answer(let message, let maxAge):
            status = .ok
            body = message
            headers.add(name: "content-type", value: "application/dns-message")
            headers.add(name: "content-length", value: "\(message.readableBytes)")
            headers.add(name: "cache-control", value: "max-age=\(maxAge)")
        }
        self.state = .idle
        self.idleTimer.touch(context.eventLoop.now)
        let keepAlive = request.isKeepAlive && !self.draining
        if !keepAlive { headers.add(name: "connection", value: "close") }
        context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status,
                                                                  headers: headers))), promise: nil)
        if let body { context.write(self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: written)
        if !keepAlive { written.futureResult.whenComplete { _ in context.close(promise: nil) } }
    }
}
