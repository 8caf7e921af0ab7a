import CQUIC
public import NIOCore

/// A QUIC server's shared state on the C side (``CQUIC``): the certificate and key, TLS 1.3 settings, the ALPN it
/// requires, the session-ticket key and the limits it advertises. Read-only once made; connections made from it
/// may live on any thread, each on one.
public final class QUICServerEndpoint: @unchecked Sendable {
    // @unchecked: the C object is never written after `cquic_server_new`.
    /// The C endpoint, for `cquic_accept`.
    public let pointer: OpaquePointer

    /// Loads the PEM certificate chain and key; throws with GnuTLS's reason when they cannot be used.
    public init(certificateFile: String, keyFile: String, alpn: String, maxStreams: Int, idleTimeout: TimeAmount)
        throws(QUICEndpointError)
    {
        var message = [CChar](repeating: 0, count: 256)
        let limits = cquic_server_limits(max_streams: UInt64(maxStreams),
                                         max_stream_data: UInt64(QUICConnection.maxStreamBytes),
                                         idle_timeout_ms: UInt64(max(idleTimeout.nanoseconds / 1_000_000, 1)),
                                         handshake_timeout_ms: UInt64(Self.handshakeTimeout.nanoseconds / 1_000_000))
        guard let pointer = cquic_server_new(certificateFile, keyFile, alpn, limits, &message, message.count) else {
            throw QUICEndpointError(message: message)
        }
        self.pointer = pointer
    }

    deinit {
        cquic_server_free(self.pointer)
    }

    /// How long a handshake may take: a client that has not finished by then is gone.
    static let handshakeTimeout = TimeAmount.seconds(5)
}

/// Why a QUIC endpoint could not be set up.
public struct QUICEndpointError: Error, CustomStringConvertible {
    public var reason: String
    public var description: String { self.reason }

    /// The message the C side wrote into `message`.
    init(message: [CChar]) {
        self.reason = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
