import DNSCore
import DNSWire
import ExtrasBase64
import NIOCore

/// One DNS-over-HTTPS request (RFC 8484), whatever HTTP version carried it: from the method, target, content type
/// and body to the DNS answer, or to the HTTP status that refuses the request. Shared by the HTTP/2 and HTTP/1.1
/// handlers.
enum DoHExchange {
    /// What a request gets.
    enum Outcome {
        /// 200 with this DNS message, fresh for `maxAge` seconds.
        case answer(ByteBuffer, maxAge: UInt32)
        /// An HTTP error with no body.
        case status(Int)
        /// Nothing (a refused client configured to get nothing): the stream or connection is closed.
        case silence
    }

    /// The largest DNS message.
    static let maxBody = 65_535

    /// The DNS query a request carries, or the HTTP status that refuses it: 404 for a path other than `path`, 405
    /// for a method other than GET and POST, 415 for a POST that is not `application/dns-message`, 413 for a body
    /// over 65,535 octets, 400 for a GET without a valid `dns` parameter. The target is read as bytes, in place.
    static func query(method: String, target: Substring, contentType: String?, body: ByteBuffer?, bodyTooLarge: Bool,
                      path: String, allocator: ByteBufferAllocator) -> Result<ByteBuffer, StatusError> {
        let read = { (target: UnsafeBufferPointer<UInt8>) in
            Self.query(method: method, target: target, contentType: contentType, body: body,
                       bodyTooLarge: bodyTooLarge, path: path, allocator: allocator)
        }
        return target.utf8.withContiguousStorageIfAvailable(read) ?? Array(target.utf8).withUnsafeBufferPointer(read)
    }

    private static func query(method: String, target: UnsafeBufferPointer<UInt8>, contentType: String?,
                              body: ByteBuffer?, bodyTooLarge: Bool, path: String,
                              allocator: ByteBufferAllocator) -> Result<ByteBuffer, StatusError> {
        let mark = target.firstIndex(of: UInt8(ascii: "?")) ?? target.endIndex
        guard path.utf8.elementsEqual(target[..<mark]) else { return .failure(StatusError(code: 404)) }
        switch method {
        case "GET":
            let query = target[(mark == target.endIndex ? mark : mark + 1)...]
            guard let encoded = Self.parameter("dns", in: query), let bytes = Self.base64URLDecoded(encoded) else {
                return .failure(StatusError(code: 400))
            }
            return .success(allocator.buffer(bytes: bytes))
        case "POST":
            guard !bodyTooLarge else { return .failure(StatusError(code: 413)) }
            guard contentType?.lowercased().hasPrefix("application/dns-message") == true else {
                return .failure(StatusError(code: 415))
            }
            return .success(body ?? ByteBuffer())
        default:
            return .failure(StatusError(code: 405))
        }
    }

    /// An HTTP status refusing a request.
    struct StatusError: Error {
        let code: Int
    }

    /// Answers `message` through `pipeline` and calls `done` once, on `eventLoop`.
    static func answer(_ message: ByteBuffer, client: SocketAddress?, listener: Int, pipeline: any DNSHandler,
                       queryTimeout: TimeAmount, eventLoop: any EventLoop, done: @escaping (Outcome) -> Void) {
        let metadata = DNSRequestMetadata(client: client, transport: .https, listener: listener)
        switch QueryIntake(message: message, metadata: metadata, deadline: .now() + queryTimeout) {
        case .drop:
            done(.status(400))
        case .reply(let reply):
            done(.answer(reply, maxAge: 0))
        case .request(let request):
            let pending: DNSPendingQuery
            switch pipeline.begin(request) {
            case .answered(let response): return done(Self.outcome(response, for: request))
            case .pending(let query): pending = query
            }
            pending.finish(on: eventLoop).assumeIsolated().whenComplete { result in
                done(Self.outcome((try? result.get()) ?? DNSResponse.error(.servFail, for: request), for: request))
            }
        }
    }

    private static func outcome(_ response: DNSResponse, for request: DNSRequest) -> Outcome {
        guard !response.isSilent else { return .silence }
        let message = EncryptedAnswerPadding.apply(response.message, for: request)
        return .answer(message, maxAge: Self.freshness(of: response))
    }

    /// RFC 8484 §5.1: no longer than the smallest TTL of the records in the answer (0 when it has none).
    static func freshness(of response: DNSResponse) -> UInt32 {
        guard let view = response.view ?? (try? DNSMessageView(response.message)) else { return 0 }
        var smallest: UInt32?
        for record in view.records where record.type != .opt {
            if let ttl = response.message.dnsTTL(of: record) { smallest = min(smallest ?? ttl, ttl) }
        }
        return smallest ?? 0
    }

    /// The value of `name` in a query string (`a=1&dns=...`), found without splitting the string.
    static func parameter(_ name: String, in query: Slice<UnsafeBufferPointer<UInt8>>)
        -> Slice<UnsafeBufferPointer<UInt8>>? {
        let key = name.utf8
        var start = query.startIndex
        while start < query.endIndex {
            let end = query[start...].firstIndex(of: UInt8(ascii: "&")) ?? query.endIndex
            let pair = query[start..<end]
            if pair.starts(with: key), pair.dropFirst(key.count).first == UInt8(ascii: "=") {
                return pair.dropFirst(key.count + 1)
            }
            start = end == query.endIndex ? end : end + 1
        }
        return nil
    }

    /// RFC 4648 §5 base64url without padding, as RFC 8484 §4.1 sends the query.
    static func base64URLDecoded(_ text: Slice<UnsafeBufferPointer<UInt8>>) -> [UInt8]? {
        try? Base64.decode(bytes: text, options: [.base64UrlAlphabet, .omitPaddingCharacter])
    }
}
