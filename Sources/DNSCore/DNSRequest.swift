public import DNSWire
public import NIOCore

/// How a query reached dnsgate.
public enum DNSTransport: String, Sendable, CaseIterable {
    case udp, tcp, tls, https, tun, doq
}

/// What a frontend knows about where a query came from, for access control, rate limits and logs.
public struct DNSRequestMetadata: Sendable {
    /// The client's address, if the transport has one.
    public var client: SocketAddress?
    public var transport: DNSTransport
    /// The listener that took the query (its `ListenerAddress.id`), 0 when it came another way (the TUN device).
    public var listener: Int

    public init(client: SocketAddress?, transport: DNSTransport, listener: Int = 0) {
        self.client = client
        self.transport = transport
        self.listener = listener
    }
}

/// A parsed query on its way through the pipeline. It keeps the client's own bytes, so that answers can be
/// forwarded and patched rather than re-encoded.
public struct DNSRequest: Sendable {
    /// The client's message, as received.
    public var message: ByteBuffer
    /// Index of `message`.
    public let view: DNSMessageView
    /// The (single) question, with the client's spelling.
    public let question: DNSQuestion
    public let metadata: DNSRequestMetadata
    /// When the client stops waiting; every stage must answer before then.
    public let deadline: NIODeadline

    /// Creates a request from a message whose view has exactly one question.
    public init?(message: ByteBuffer, view: DNSMessageView, metadata: DNSRequestMetadata, deadline: NIODeadline) {
        guard let question = view.question else { return nil }
        self.message = message
        self.view = view
        self.question = question
        self.metadata = metadata
        self.deadline = deadline
    }

    /// The message ID the client chose.
    public var id: UInt16 { self.view.header.id }

    /// The largest UDP answer the client accepts: its EDNS payload size (never below 512), or 512 without EDNS.
    public var maxUDPResponseSize: Int {
        max(512, Int(self.view.opt?.udpPayloadSize ?? 512))
    }
}

/// A validated answer's DNSSEC state (RFC 4033 §5); the raw value is its spelling in metrics and the query log.
public enum DNSSECStatus: String, Sendable, Hashable, CaseIterable {
    case secure, insecure, bogus, indeterminate
}

/// The answer to a ``DNSRequest``, in wire form, ready to send to the client.
public struct DNSResponse: Sendable {
    /// Who produced an answer; the raw value is its one spelling in metrics, stats and the query log.
    public enum Origin: String, Sendable, Hashable, CaseIterable {
        /// An upstream resolver.
        case upstream
        /// The cache (fresh or stale).
        case cache
        /// dnsgate itself: an error it generated (SERVFAIL after upstream failure, REFUSED, ...) or a local record.
        case local
        /// A blocklist.
        case blocked
        /// Fake-IP mode's made-up address.
        case fakeIP = "fakeip"
    }

    public var message: ByteBuffer
    public var origin: Origin
    /// The index of `message`, when whoever made it had one (so later stages need not parse it again).
    public var view: DNSMessageView?
    /// The resolver that gave an upstream answer (for the query log).
    public var upstream: String?
    /// What DNSSEC validation found, when this answer was validated on its way here.
    public var dnssec: DNSSECStatus?

    public init(message: ByteBuffer, origin: Origin = .upstream, view: DNSMessageView? = nil,
                upstream: String? = nil, dnssec: DNSSECStatus? = nil) {
        self.message = message
        self.origin = origin
        self.view = view
        self.upstream = upstream
        self.dnssec = dnssec
    }

    /// No answer at all: the frontend sends nothing (UDP) or closes the connection (TCP), as configured for refused
    /// or rate-limited clients.
    public static let silence = DNSResponse(message: ByteBuffer(), origin: .local)

    /// Whether this is ``silence``.
    public var isSilent: Bool { self.message.readableBytes == 0 }

    /// A response with `rcode` (and optionally an Extended DNS Error) built for `request`.
    public static func error(
        _ rcode: DNSRCode,
        for request: DNSRequest,
        extendedError: DNSExtendedErrorCode? = nil
    ) -> DNSResponse {
        // The request's view always has a readable header, so the builder always returns a message.
        let message = DNSErrorResponse.make(rcode, to: request.message, view: request.view,
                                            extendedError: extendedError) ?? ByteBuffer()
        return DNSResponse(message: message, origin: .local)
    }

    /// dnsgate's own answer to `request`: `records`, owned by the question's name, with `rcode`.
    public static func local(_ records: [DNSLocalRecord], for request: DNSRequest, rcode: DNSRCode = .noError)
        -> DNSResponse
    {
        let message = DNSErrorResponse.make(rcode, to: request.message, view: request.view, answers: records)
            ?? ByteBuffer()
        return DNSResponse(message: message, origin: .local)
    }
}
