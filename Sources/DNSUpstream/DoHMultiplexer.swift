import DNSCore
import DNSHTTP2
import DNSWire
import ExtrasBase64
import NIOCore

/// Carries many DNS-over-HTTPS queries at once over one HTTP/2 connection (RFC 8484) on libnghttp2: each query is a
/// stream of its own, `POST` with an `application/dns-message` body (or `GET` with `?dns=`), and its answer is
/// matched by stream, not by DNS ID, so every query goes out with ID 0 as RFC 8484 §4.1 recommends (better for HTTP
/// caches) and gets the client's ID back. A reply is used only with status 200, content type
/// `application/dns-message` and the question asked.
///
/// The bytes TLS decrypted go into an ``HTTP2Session`` (stream states, HPACK, flow control), and what it has to
/// send leaves in one write per event loop tick.
final class DoHMultiplexer: ChannelInboundHandler, RemovableChannelHandler, ConnectionBackedCarrier,
    HTTP2SessionDelegate
{
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The request's fixed parts.
    struct Request: Sendable {
        var authority: String
        var path: String
        /// GET or POST, per query.
        var method: DoHMethodChoice
    }

    /// The largest answer taken (RFC 8484 §6 and DNS's own 16-bit length): a longer body resets the stream.
    static let maxAnswerSize = 65_535

    private let request: Request
    /// The pseudo-header fields every GET shares; `:path` and `accept` follow.
    private let getHeaders: [HTTP2HeaderField]
    /// The header fields every POST shares; `content-length` follows.
    private let postHeaders: [HTTP2HeaderField]
    private let maxInFlight: Int
    private let upstreamName: String
    private let session: HTTP2Session
    let connection: CarrierConnection<Int32>
    private var pending: InFlightQueries<Int32> { self.connection.pending }
    /// Streams whose query went out as POST.
    private var posts = Set<Int32>()

    init(request: Request, maxInFlight: Int, idleTimeout: TimeAmount, upstreamName: String) throws {
        self.request = request
        // Built once: a query adds only its path (GET) or its length (POST).
        self.getHeaders = [HTTP2HeaderField(":method", "GET"), HTTP2HeaderField(":scheme", "https"),
                           HTTP2HeaderField(":authority", request.authority)]
        self.postHeaders = [
            HTTP2HeaderField(":method", "POST"), HTTP2HeaderField(":scheme", "https"),
            HTTP2HeaderField(":authority", request.authority), HTTP2HeaderField(":path", request.path),
            HTTP2HeaderField("accept", "application/dns-message"),
            HTTP2HeaderField("content-type", "application/dns-message"),
        ]
        self.maxInFlight = min(maxInFlight, 60_000)
        self.upstreamName = upstreamName
        let session = try HTTP2Session(role: .client, settings: .init(maxConcurrentStreams: 100,
                                                                      maxBody: Self.maxAnswerSize),
                                       allocator: ByteBufferAllocator())
        self.session = session
        self.connection = CarrierConnection(upstreamName: upstreamName, idleTimeout: idleTimeout) { context in
            session.flushOutput(through: context)
        }
        session.delegate = self
        // A query past its deadline gives its stream back: a server that never answers cannot hold the streams
        // it allows.
        self.connection.pending.expired = { [weak self] stream in
            guard let self else { return }
            self.posts.remove(stream)
            self.session.reset(stream, code: .cancel)
            self.connection.flusher.flushSoon()
        }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.connection.attach(context)
        if context.channel.isActive { self.connection.flusher.flushSoon() }
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        // The connection preface, SETTINGS and the connection window grant.
        self.connection.flusher.flushSoon()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.connection.detach(failing: .connectionClosed(self.upstreamName))
    }

    func send(_ query: UpstreamQuery, promise: EventLoopPromise<UpstreamAnswer>) {
        guard let context = self.connection.context, self.connection.isOpen else {
            promise.fail(UpstreamError.connectionClosed(self.upstreamName))
            return
        }
        guard self.pending.count < self.maxInFlight, let clientID = query.message.dnsMessageID else {
            promise.fail(UpstreamError.busy(self.upstreamName))
            return
        }
        var message = query.message
        message.setDNSMessageID(0)
        let usesGET = self.request.method.prefersGET
        let stream: Int32?
        if usesGET {
            // Pseudo-header fields come first (RFC 9113 §8.3).
            stream = self.session.request(headers: self.getHeaders + [
                HTTP2HeaderField(":path", self.request.path + "?dns=" + Self.base64URL(message)),
                HTTP2HeaderField("accept", "application/dns-message"),
            ], body: nil)
        } else {
            stream = self.session.request(headers: self.postHeaders + [
                HTTP2HeaderField("content-length", String(message.readableBytes)),
            ], body: message)
        }
        guard let stream else {
            // Stream IDs spent or GOAWAY received: the slot opens a new connection.
            promise.fail(UpstreamError.connectionClosed(self.upstreamName))
            self.connection.closeWhenIdle()
            return
        }
        self.pending.insert(.init(clientID: clientID, question: query.question, promise: promise,
                                  deadline: query.deadline), for: stream, on: context.eventLoop)
        if !usesGET { self.posts.insert(stream) }
        self.connection.flusher.flushSoon()
        // Once the last stream ID is spent, the connection takes no more.
        if self.session.nextStreamID > UInt32(Int32.max) { self.closeWhenIdle() }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        do {
            try self.session.receive(self.unwrapInboundIn(data))
            self.connection.flusher.flushSoon()
        } catch {
            self.connection.markClosed(failing: .badReply(self.upstreamName, reason: "HTTP/2: \(error)"))
            self.session.flushOutput(through: context)
            context.close(promise: nil)
        }
    }

    func http2Session(_ session: HTTP2Session, received message: HTTP2Message, on stream: Int32) {
        guard let entry = self.pending.remove(stream) else { return }
        let isPOST = self.posts.remove(stream) != nil
        defer { self.connection.closeIfDrained() }
        guard !message.bodyTooLarge else {
            return entry.promise.fail(UpstreamError.badReply(
                self.upstreamName, reason: "answer longer than \(Self.maxAnswerSize) octets"))
        }
        // Anything but 200 is an HTTP-level failure (RFC 8484 §4.2.1).
        let type = message.contentType?.lowercased()
        guard message.status == "200", type?.hasPrefix("application/dns-message") == true else {
            return entry.promise.fail(UpstreamError.badReply(
                self.upstreamName, reason: "HTTP \(message.status ?? "without status"), \(type ?? "no content type")"))
        }
        guard var answer = message.body, let view = try? DNSMessageView(answer), view.header.isResponse,
            view.question == entry.question
        else {
            return entry.promise.fail(UpstreamError.badReply(self.upstreamName, reason: "not an answer to the question"))
        }
        if let context = self.connection.context { self.connection.touch(context.eventLoop.now) }
        if isPOST { self.request.method.postAnswered() }
        answer.setDNSMessageID(entry.clientID)
        entry.promise.succeed(UpstreamAnswer(message: answer, view: view, upstream: self.upstreamName))
    }

    func http2Session(_ session: HTTP2Session, closed stream: Int32, errorCode: UInt32) {
        let isPOST = self.posts.remove(stream) != nil
        // A stream that closed with its answer was already taken out of `pending`.
        guard let entry = self.pending.remove(stream) else { return }
        if isPOST, errorCode != 0 { self.request.method.postReset() }
        entry.promise.fail(errorCode == 0
            ? UpstreamError.badReply(self.upstreamName, reason: "stream ended without an answer")
            : UpstreamError.streamReset(self.upstreamName, code: HTTP2Session.errorName(errorCode)))
        self.connection.closeIfDrained()
    }

    func http2Session(_ session: HTTP2Session, goAway lastStreamID: Int32) {
        // Streams above lastStreamID were never processed; the others may still be answered.
        self.connection.markClosed(failing: nil)
        for stream in self.pending.keys where stream > lastStreamID {
            self.posts.remove(stream)
            self.pending.remove(stream)?.promise.fail(UpstreamError.connectionClosed(self.upstreamName))
        }
        self.connection.closeIfDrained()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.posts.removeAll()
        self.connection.markClosed(failing: .connectionClosed(self.upstreamName))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.connection.markClosed(failing: nil)
        context.close(promise: nil)
    }

    /// base64url without padding (RFC 8484 §4.1), as the DoH listener decodes it.
    static func base64URL(_ buffer: ByteBuffer) -> String {
        Base64.encodeToString(bytes: buffer.readableBytesView, options: [.base64UrlAlphabet, .omitPaddingCharacter])
    }
}
