public import NIOCore

/// One configured listener: an address and the protocol spoken there.
public struct ListenerAddress: Hashable, Sendable, CustomStringConvertible {
    /// The protocol of a listener.
    public enum Kind: Hashable, Sendable {
        /// DNS over UDP and TCP on the same port.
        case plain
        /// DNS over TLS (RFC 7858).
        case tls
        /// DNS over HTTPS (RFC 8484) on `path`, HTTP/2 and HTTP/1.1.
        case https(path: String)
        /// DNS over QUIC (RFC 9250), on UDP.
        case quic
    }

    public var address: SocketAddress
    public var kind: Kind

    public init(_ address: SocketAddress, kind: Kind = .plain) {
        self.address = address
        self.kind = kind
    }

    /// As the configuration writes it: `127.0.0.1:53`, `tls://127.0.0.1:853`, `https://127.0.0.1:443/dns-query`,
    /// `quic://127.0.0.1:853`.
    public var description: String {
        switch self.kind {
        case .plain: self.address.hostAndPort
        case .tls: "tls://" + self.address.hostAndPort
        case .https(let path): "https://" + self.address.hostAndPort + path
        case .quic: "quic://" + self.address.hostAndPort
        }
    }

    /// Names the listener in the requests it takes (``DNSRequestMetadata/listener``), for per-listener access
    /// control; never 0.
    public var id: Int { self.description.hashValue | 1 }

    /// Whether the listener needs a certificate.
    public var isEncrypted: Bool { self.kind != .plain }
}
