import DNSCore
import DNSWire
import NIOCore

/// What dnsgate does with one query datagram, whatever reads the socket: an answer now (error replies, cache hits
/// and other immediate answers), the pipeline's answer later, or nothing. Every answer is cut to the client's
/// EDNS payload size (512 bytes without EDNS) with TC=1 when it does not fit.
struct UDPQueryResponder: Sendable {
    /// The fate of one datagram.
    enum Outcome {
        /// Not a query worth answering (not DNS, or a response): dropped.
        case none
        /// Send this at once.
        case reply(ByteBuffer)
        /// Needs the asynchronous pipeline: hand it to ``answer(_:on:send:)`` on an event loop.
        case later(DNSPendingQuery)
    }

    let pipeline: any DNSHandler
    let queryTimeout: TimeAmount
    /// The listener's ``ListenerAddress/id``.
    var listener = 0

    /// Classifies `datagram` from `client` and answers it if that needs no waiting.
    func respond(to datagram: ByteBuffer, from client: SocketAddress) -> Outcome {
        let metadata = DNSRequestMetadata(client: client, transport: .udp, listener: self.listener)
        switch QueryIntake(message: datagram, metadata: metadata, deadline: .now() + self.queryTimeout) {
        case .drop:
            return .none
        case .reply(let reply):
            return reply.dnsFitted(toUDPSize: 512).map(Outcome.reply) ?? .none
        case .request(let request):
            let response: DNSResponse
            switch self.pipeline.begin(request) {
            case .answered(let answer): response = answer
            case .pending(let pending): return .later(pending)
            }
            if response.isSilent { return .none }
            return response.message.dnsFitted(toUDPSize: request.maxUDPResponseSize).map(Outcome.reply) ?? .none
        }
    }

    /// Finishes `pending` through the pipeline on `eventLoop` (call it there) and passes the answer, or SERVFAIL
    /// when the pipeline fails or answers with something unusable, to `send` (always called once; with an empty
    /// buffer when nothing is to be sent).
    func answer(_ pending: DNSPendingQuery, on eventLoop: any EventLoop, send: @escaping (ByteBuffer) -> Void) {
        let request = pending.request
        let limit = request.maxUDPResponseSize
        pending.finish(on: eventLoop).assumeIsolated().whenComplete { result in
            let message = switch result {
            case .success(let response) where response.isSilent: ByteBuffer()
            case .success(let response): response.message
            case .failure: DNSResponse.error(.servFail, for: request).message
            }
            // Silence goes to `send` too (empty), so that the query is counted as done.
            send(message.readableBytes == 0 ? message
                 : message.dnsFitted(toUDPSize: limit) ?? DNSResponse.error(.servFail, for: request).message)
        }
    }
}
