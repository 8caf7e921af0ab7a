import DNSCore
import DNSWire
import Foundation
import NIOCore
import NIOHPACK
import NIOHTTP2

/// Carries many DNS-over-HTTPS queries at once over one HTTP/2 connection (RFC 8484): each query is a stream of
/// its own, `POST` with an `application/dns-message` body (or `GET` with `?dns=`), and its answer is matched by
/// stream, not by DNS ID, so every query goes out with ID 0 as RFC 8484 §4.1 recommends (better for HTTP caches)
/// and gets the client's ID back. A reply is used only with status 200, content type `application/dns-message`
/// and the question asked.
///
/// Works on HTTP/2 frames directly (no child channel per stream): `NIOHTTP2Handler` keeps the stream states and
/// outbound flow control, and this handler returns the connection's inbound window to the server as answers are
/// read.
final class DoHMultiplexer: ChannelInboundHandler, RemovableChannelHandler, ConnectionBackedCarrier {
    typealias InboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame


    /// The request's fixed parts.
    struct Request: Sendable {
        var authority: String
        var path: String
        /// GET or POST, per query.
        var method: DoHMethodChoice
    }

    private struct Reply {
        var status: Bool = false
        var body: ByteBuffer?
        /// Whether the query went out as POST.
        var isPOST: Bool
    }

    /// The largest answer taken (RFC 8484 §6 and DNS's own 16-bit length): a longer body resets the stream.
    static let maxAnswerSize = 65_535

    private let request: Request
    /// The pseudo-header fields every GET shares; `:path` and `accept` follow.
    private let getHeaders: HPACKHeaders
    /// The header fields every POST shares; `content-length` follows.
    private let postHeaders: HPACKHeaders
    private let maxInFlight: Int
    private let upstreamName: String
    let connection: CarrierConnection<HTTP2StreamID>
    private var pending: InFlightQueries<HTTP2StreamID> { self.connection.pending }
    private var replies: [HTTP2StreamID: Reply] = [:]
    private var nextStreamID = HTTP2StreamID(1)
    /// Inbound DATA octets read since the last WINDOW_UPDATE for the connection.
    private var window = ConnectionWindowCredit()

    init(request: Request, maxInFlight: Int, idleTimeout: TimeAmount, upstreamName: String) {
        self.request = request
        // Built once: a query adds only its path (GET) or its length (POST) to a copy.
        self.getHeaders = HPACKHeaders([(":method", "GET"), (":scheme", "https"), (":authority", request.authority)])
        self.postHeaders = HPACKHeaders([
            (":method", "POST"), (":scheme", "https"), (":authority", request.authority), (":path", request.path),
            ("accept", "application/dns-message"), ("content-type", "application/dns-message"),
        ])
        self.maxInFlight = min(maxInFlight, 60_000)
        self.upstreamName = upstreamName
        self.connection = CarrierConnection(upstreamName: upstreamName, idleTimeout: idleTimeout)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.connection.attach(context)
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        // After the HTTP/2 preface (sent by NIOHTTP2Handler on channelActive): a large connection window up front,
        // so that answers never wait for a WINDOW_UPDATE.
        let grant = HTTP2Frame(streamID: .rootStream,
                               payload: .windowUpdate(windowSizeIncrement: ConnectionWindowCredit.size))
        context.write(self.wrapOutboundOut(grant), promise: nil)
        self.connection.flusher.flushSoon()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.connection.detach(failing: .connectionClosed(self.upstreamName))
    }

    func send(_ query: UpstreamQuery, promise: EventLoopPromise<UpstreamAnswer>) {
        guard let context = self.connection.context, self.connection.isOpen, self.nextStreamID < HTTP2StreamID.maxID
        else {
            promise.fail(UpstreamError.connectionClosed(self.upstreamName))
            return
        }
        guard self.pending.count < self.maxInFlight, let clientID = query.message.dnsMessageID else {
            promise.fail(UpstreamError.busy(self.upstreamName))
            return
        }
        let streamID = self.nextStreamID
        self.nextStreamID = HTTP2StreamID(Int32(streamID) + 2)
        var message = query.message
        message.setDNSMessageID(0)
        self.pending.insert(.init(clientID: clientID, question: query.question, promise: promise,
                                  deadline: query.deadline), for: streamID, on: context.eventLoop)
        let usesGET = self.request.method.prefersGET
        self.replies[streamID] = Reply(isPOST: !usesGET)
        if usesGET {
            let path = self.request.path + "?dns=" + Self.base64URL(message)
            var headers = self.getHeaders
            headers.add(name: ":path", value: path)  // pseudo-header fields come first (RFC 9113 §8.3)
            headers.add(name: "accept", value: "application/dns-message")
            context.write(self.wrapOutboundOut(HTTP2Frame(streamID: streamID, payload: .headers(.init(
                headers: headers, endStream: true)))), promise: nil)
        } else {
            var headers = self.postHeaders
            headers.add(name: "content-length", value: String(message.readableBytes))
            context.write(self.wrapOutboundOut(HTTP2Frame(streamID: streamID, payload: .headers(.init(
                headers: headers)))), promise: nil)
            context.write(self.wrapOutboundOut(HTTP2Frame(streamID: streamID, payload: .data(.init(
                data: .byteBuffer(message), endStream: true)))), promise: nil)
        }
        self.connection.flusher.flushSoon()
        // Once the last stream ID is spent, the connection takes no more; the slot opens a new one.
        if self.nextStreamID >= HTTP2StreamID.maxID { self.closeWhenIdle() }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = self.unwrapInboundIn(data)
        switch frame.payload {
        case .headers(let headers):
            self.readHeaders(headers, on: frame.streamID)
        case .data(let payload):
            self.returnWindow(payload.data.readableBytes, context: context)
            guard case .byteBuffer(var bytes) = payload.data, let reply = self.replies[frame.streamID] else { break }
            guard (reply.body?.readableBytes ?? 0) + bytes.readableBytes <= Self.maxAnswerSize else {
                self.refuseOversizedAnswer(frame.streamID, context: context)
                break
            }
            if reply.body == nil {
                self.replies[frame.streamID]?.body = bytes
            } else {
                self.replies[frame.streamID]?.body?.writeBuffer(&bytes)
            }
            if payload.endStream { self.finish(frame.streamID, context: context) }
        case .rstStream(let code):
            if self.replies[frame.streamID]?.isPOST == true { self.request.method.postReset() }
            self.fail(frame.streamID, .streamReset(self.upstreamName, code: "\(code)"))
        case .goAway(let lastStreamID, _, _):
            // Streams above lastStreamID were never processed; the others may still be answered.
            self.connection.markClosed(failing: nil)
            for streamID in self.replies.keys where streamID > lastStreamID {
                self.fail(streamID, .connectionClosed(self.upstreamName))
            }
            self.connection.closeIfDrained()
        default:
            break
        }
    }

    private func readHeaders(_ payload: HTTP2Frame.FramePayload.Headers, on streamID: HTTP2StreamID) {
        guard self.replies[streamID] != nil else { return }
        let headers = payload.headers
        if let status = headers.first(name: ":status") {
            // 1xx are interim; anything but 200 is an HTTP-level failure (RFC 8484 §4.2.1).
            if status.hasPrefix("1") { return }
            let type = headers.first(name: "content-type")?.lowercased()
            guard status == "200", type?.hasPrefix("application/dns-message") == true else {
                self.fail(streamID, .badReply(self.upstreamName, reason: "HTTP \(status), \(type ?? "no content type")"))
                return
            }
            self.replies[streamID]?.status = true
        }
        if payload.endStream, let context = self.connection.context { self.finish(streamID, context: context) }
    }

    /// The stream ended: its body is the answer, if it is one for the question asked.
    private func finish(_ streamID: HTTP2StreamID, context: ChannelHandlerContext) {
        guard let reply = self.replies.removeValue(forKey: streamID), let entry = self.pending.remove(streamID) else {
            return
        }
        guard reply.status, var message = reply.body, let view = try? DNSMessageView(message),
            view.header.isResponse, view.question == entry.question
        else {
            entry.promise.fail(UpstreamError.badReply(self.upstreamName, reason: "not an answer to the question"))
            self.connection.closeIfDrained()
            return
        }
        self.connection.touch(context.eventLoop.now)
        if reply.isPOST { self.request.method.postAnswered() }
        message.setDNSMessageID(entry.clientID)
        entry.promise.succeed(UpstreamAnswer(message: message, view: view, upstream: self.upstreamName))
        self.connection.closeIfDrained()
    }

    /// Resets a stream whose answer grew past ``maxAnswerSize`` and fails its query as a bad reply.
    private func refuseOversizedAnswer(_ streamID: HTTP2StreamID, context: ChannelHandlerContext) {
        context.write(self.wrapOutboundOut(HTTP2Frame(streamID: streamID, payload: .rstStream(.cancel))), promise: nil)
        self.connection.flusher.flushSoon()
        self.fail(streamID, .badReply(self.upstreamName, reason: "answer longer than \(Self.maxAnswerSize) octets"))
    }

    private func fail(_ streamID: HTTP2StreamID, _ error: UpstreamError) {
        self.replies[streamID] = nil
        self.pending.remove(streamID)?.promise.fail(error)
    }

    /// Grants the server the connection window back once half of it has been used.
    private func returnWindow(_ bytes: Int, context: ChannelHandlerContext) {
        guard let increment = self.window.consume(bytes) else { return }
        context.write(self.wrapOutboundOut(HTTP2Frame(
            streamID: .rootStream, payload: .windowUpdate(windowSizeIncrement: increment))), promise: nil)
        self.connection.flusher.flushSoon()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.replies.removeAll()
        self.connection.markClosed(failing: .connectionClosed(self.upstreamName))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A stream-level error fails that stream only; anything else ends the connection.
        if let streamError = error as? NIOHTTP2Errors.StreamError {
            self.fail(streamError.streamID, .badReply(self.upstreamName, reason: "\(streamError.baseError)"))
            return
        }
        self.connection.markClosed(failing: nil)
        context.close(promise: nil)
    }

    /// base64url without padding (RFC 8484 §4.1): Foundation's base64 with the URL-safe alphabet.
    static func base64URL(_ buffer: ByteBuffer) -> String {
        var text = Data(buffer.readableBytesView).base64EncodedString()
        while text.hasSuffix("=") { text.removeLast() }
        return String(text.map { $0 == "+" ? "-" : $0 == "/" ? "_" : $0 })
    }
}
