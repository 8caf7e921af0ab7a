import COpenSSL

/// Why a TLS client connection, or its configuration, failed.
public struct TLSClientError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Base: Hashable, Sendable {
        case configuration
        case handshake
        case connection
        case closedDuringHandshake
        case applicationProtocolRefused
    }

    private let base: Base
    /// What OpenSSL said, for a person to act on.
    public let reason: String

    private init(_ base: Base, _ reason: String) {
        self.base = base
        self.reason = reason
    }

    /// A trust anchor file, protocol list or other setting that OpenSSL would not take.
    public static func configuration(_ reason: String) -> TLSClientError { TLSClientError(.configuration, reason) }
    /// The handshake failed: the certificate did not verify, no common protocol, or the server refused.
    public static func handshake(_ reason: String) -> TLSClientError { TLSClientError(.handshake, reason) }
    /// Records that did not decrypt or a protocol violation after the handshake.
    public static func connection(_ reason: String) -> TLSClientError { TLSClientError(.connection, reason) }
    /// The server answered the handshake with RFC 7301's no_application_protocol alert: it speaks none of the ALPN
    /// protocols offered (a terminator set up for `h2` and `http/1.1` only, say).
    public static func applicationProtocolRefused(_ reason: String) -> TLSClientError {
        TLSClientError(.applicationProtocolRefused, reason)
    }
    /// The server closed the connection before the handshake completed.
    public static let closedDuringHandshake = TLSClientError(.closedDuringHandshake, "closed during the TLS handshake")

    /// Whether the handshake itself failed (a certificate that does not verify will not mend itself in a moment,
    /// unlike a server that closed the connection while restarting).
    public var isHandshakeFailure: Bool { self.base == .handshake || self.base == .applicationProtocolRefused }

    /// Whether the server refused every ALPN protocol offered: a connection that offers none may still succeed.
    public var isApplicationProtocolRefused: Bool { self.base == .applicationProtocolRefused }

    public var description: String { self.reason }
}

extension TLSClientError {
    /// Empties OpenSSL's error queue of this thread into one line, or `fallback` when it holds nothing.
    static func drainedErrorQueue(or fallback: String) -> String {
        var reasons: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            var text = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &text, text.count)
            reasons.append(String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return reasons.isEmpty ? fallback : reasons.joined(separator: "; ")
    }
}
