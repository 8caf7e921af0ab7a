public import NIOCore

/// What one stream brought in: a request (server) or a response (client), with the few header fields DoH reads and
/// its body. Other header fields are read by nghttp2 (which checks the pseudo-header fields and `content-length`)
/// and not kept.
public struct HTTP2Message {
    /// `:method` of a request.
    public var method: String?
    /// `:path` of a request.
    public var path: String?
    /// `:status` of the final response (interim 1xx statuses are skipped).
    public var status: String?
    /// `content-type`.
    public var contentType: String?
    /// The body, up to the session's body limit.
    public var body: ByteBuffer?
    /// The body went past the session's limit and was dropped.
    public var bodyTooLarge = false

    /// An empty message.
    public init() {}
}

/// A header field of a request or response dnsgate sends.
public struct HTTP2HeaderField: Sendable {
    /// The field name, lowercase (RFC 9113 §8.2.1).
    public var name: String
    /// The field value.
    public var value: String

    /// A header field.
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// An HTTP/2 error code (RFC 9113 §7) that dnsgate sends.
public enum HTTP2ErrorCode: UInt32, Sendable {
    /// NO_ERROR.
    case noError = 0x0
    /// PROTOCOL_ERROR.
    case protocolError = 0x1
    /// INTERNAL_ERROR.
    case internalError = 0x2
    /// REFUSED_STREAM.
    case refusedStream = 0x7
    /// CANCEL.
    case cancel = 0x8
}

/// nghttp2 refused bytes, or could not produce them: the connection is over (its GOAWAY, when there is one, is in
/// the session's output).
public struct HTTP2SessionError: Error, CustomStringConvertible {
    /// nghttp2's error code (`nghttp2_error`).
    public let code: Int32
    /// nghttp2's text for it.
    public let description: String
}
