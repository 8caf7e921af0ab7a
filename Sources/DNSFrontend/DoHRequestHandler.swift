import DNSCore
import DNSWire
import Foundation
import NIOCore
import NIOHTTP1

/// Answers DNS-over-HTTPS requests (RFC 8484) on `path`: `GET ?dns=` with the query in base64url, or `POST` with an
/// `application/dns-message` body, through the query pipeline. Answers are `application/dns-message` with
/// `Cache-Control: max-age` set to the smallest TTL in the answer (RFC 8484 §5.1), padded for clients that padded
/// (RFC 8467). HTTP errors: 404 for another path, 405 for another method, 415 for another content type, 413 for a
/// body over 65,535 octets, 400 for a query that is not DNS.
final class DoHRequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// The largest DNS message.
    static let maxBody = 65_535

    private let path: String
    private let pipeline: any DNSHandler
    private let queryTimeout: TimeAmount
    private let client: SocketAddress?
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    private var tooLarge = false

    init(path: String, pipeline: any DNSHandler, queryTimeout: TimeAmount, client: SocketAddress?) {
        self.path = path
        self.pipeline = pipeline
        self.queryTimeout = queryTimeout
        self.client = client
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            self.body = nil
            self.tooLarge = false
        case .body(var chunk):
            if (self.body?.readableBytes ?? 0) + chunk.readableBytes > Self.maxBody {
                self.tooLarge = true
            } else if self.body == nil {
                self.body = chunk
            } else {
                self.body?.writeBuffer(&chunk)
            }
        case .end:
            guard let head = self.head else { return }
            self.head = nil
            self.serve(head, body: self.body, context: context)
        }
    }

    private func serve(_ head: HTTPRequestHead, body: ByteBuffer?, context: ChannelHandlerContext) {
        let (path, query) = Self.split(head.uri)
        guard path == self.path else { return self.respond(.notFound, head: head, context: context) }
        let message: ByteBuffer
        switch head.method {
        case .GET:
            guard let encoded = Self.parameter("dns", in: query), let bytes = Self.base64URLDecoded(encoded) else {
                return self.respond(.badRequest, head: head, context: context)
            }
            message = context.channel.allocator.buffer(bytes: bytes)
        case .POST:
            guard !self.tooLarge else { return self.respond(.payloadTooLarge, head: head, context: context) }
            guard head.headers.first(name: "content-type")?.lowercased().hasPrefix("application/dns-message") == true
            else { return self.respond(.unsupportedMediaType, head: head, context: context) }
            message = body ?? ByteBuffer()
        default:
            return self.respond(.methodNotAllowed, head: head, context: context)
        }
        let metadata = DNSRequestMetadata(client: self.client, transport: .https)
        switch QueryIntake(message: message, metadata: metadata, deadline: .now() + self.queryTimeout) {
        case .drop:
            self.respond(.badRequest, head: head, context: context)
        case .reply(let reply):
            self.answer(reply, head: head, context: context)
        case .request(let request):
            if let response = self.pipeline.immediateAnswer(to: request) {
                return self.answer(response, to: request, head: head, context: context)
            }
            self.pipeline.handle(request, eventLoop: context.eventLoop).assumeIsolated().whenComplete { result in
                let response = (try? result.get()) ?? DNSResponse.error(.servFail, for: request)
                self.answer(response, to: request, head: head, context: context)
            }
        }
    }

    private func answer(_ response: DNSResponse, to request: DNSRequest, head: HTTPRequestHead,
                        context: ChannelHandlerContext) {
        // Silence for a refused or limited client: the stream (or HTTP/1.1 connection) is closed without an answer.
        guard !response.isSilent else { return context.close(promise: nil) }
        self.answer(EncryptedAnswerPadding.apply(response.message, for: request), head: head, context: context)
    }

    private func answer(_ message: ByteBuffer, head: HTTPRequestHead, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/dns-message")
        headers.add(name: "content-length", value: "\(message.readableBytes)")
        headers.add(name: "cache-control", value: "max-age=\(Self.freshness(of: message))")
        self.write(HTTPResponseHead(version: head.version, status: .ok, headers: headers), body: message,
                   keepAlive: head.isKeepAlive, context: context)
    }

    private func respond(_ status: HTTPResponseStatus, head: HTTPRequestHead, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "content-length", value: "0")
        self.write(HTTPResponseHead(version: head.version, status: status, headers: headers), body: nil,
                   keepAlive: head.isKeepAlive, context: context)
    }

    private func write(_ head: HTTPResponseHead, body: ByteBuffer?, keepAlive: Bool, context: ChannelHandlerContext) {
        var head = head
        if head.version.major == 1, !keepAlive { head.headers.add(name: "connection", value: "close") }
        context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        if let body { context.write(self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        let done = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: done)
        if head.version.major == 1, !keepAlive { done.futureResult.whenComplete { _ in context.close(promise: nil) } }
    }

    /// RFC 8484 §5.1: no longer than the smallest TTL of the records in the answer (0 when it has none).
    static func freshness(of message: ByteBuffer) -> UInt32 {
        guard let view = try? DNSMessageView(message) else { return 0 }
        let ttls = view.records.filter { $0.type != .opt }.compactMap { message.dnsTTL(of: $0) }
        return ttls.min() ?? 0
    }

    /// The path and the query string of a request target.
    static func split(_ uri: String) -> (Substring, Substring) {
        guard let mark = uri.firstIndex(of: "?") else { return (uri[...], "") }
        return (uri[..<mark], uri[uri.index(after: mark)...])
    }

    /// The value of `name` in a query string (`a=1&dns=...`).
    static func parameter(_ name: String, in query: Substring) -> Substring? {
        for pair in query.split(separator: "&") where pair.hasPrefix(name + "=") {
            return pair.dropFirst(name.count + 1)
        }
        return nil
    }

    /// RFC 4648 §5 base64url without padding, as RFC 8484 §4.1 sends the query.
    static func base64URLDecoded(_ text: Substring) -> [UInt8]? {
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        standard += String(repeating: "=", count: (4 - standard.count % 4) % 4)
        return Data(base64Encoded: standard).map { [UInt8]($0) }
    }
}
