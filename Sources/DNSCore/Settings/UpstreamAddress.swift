/// Where and how to reach one upstream resolver: `tls://host[:port][#tls-name]`,
/// `https://host[:port][/path][#tls-name]`, `quic://host[:port][#tls-name]`, `tcp://host[:port]` or
/// `udp://host[:port]`.
public struct UpstreamAddress: Hashable, Sendable, CustomStringConvertible {
    /// The transport to the upstream.
    public enum Transport: String, Sendable {
        /// DNS over TLS (RFC 7858), default port 853.
        case tls
        /// DNS over TCP, default port 53.
        case tcp
        /// DNS over UDP (retried over TCP when truncated), default port 53.
        case udp
        /// DNS over HTTPS (RFC 8484) over HTTP/2, default port 443 and path `/dns-query`.
        case https
        /// DNS over QUIC (RFC 9250), default port 853.
        case quic

        /// Whether the transport is encrypted and authenticated with TLS.
        public var usesTLS: Bool { self == .tls || self == .https || self == .quic }
    }

    public var transport: Transport
    /// An IP address literal or a host name (resolved once per connection by the system resolver).
    public var host: String
    public var port: Int
    /// The name the upstream's certificate must carry, also sent as SNI. Defaults to `host` when that is a name.
    public var tlsName: String?
    /// For DoH: the URL path queries are sent to.
    public var path: String

    public init(transport: Transport, host: String, port: Int? = nil, tlsName: String? = nil,
                path: String = "/dns-query") {
        self.transport = transport
        self.host = host
        self.port = port ?? Self.defaultPort(transport)
        self.tlsName = tlsName
        self.path = path
    }

    private static func defaultPort(_ transport: Transport) -> Int {
        switch transport {
        case .tls, .quic: 853
        case .https: 443
        case .tcp, .udp: 53
        }
    }

    /// Parses the URL form. IPv6 literals go in brackets: `tls://[2620:fe::fe]:853#dns.quad9.net`.
    public init(parsing text: String) throws(UpstreamAddressError) {
        guard let schemeEnd = text.firstRange(of: "://") else {
            throw .init(text, "missing scheme (tls://, https://, quic://, tcp:// or udp://)")
        }
        guard let transport = Transport(rawValue: String(text[..<schemeEnd.lowerBound]).lowercased()) else {
            throw .init(text, "unknown scheme '\(text[..<schemeEnd.lowerBound])' (allowed: tls, https, quic, tcp, udp)")
        }
        var rest = Substring(text[schemeEnd.upperBound...])
        var tlsName: String? = nil
        if let hash = rest.firstIndex(of: "#") {
            tlsName = String(rest[rest.index(after: hash)...])
            rest = rest[..<hash]
            guard transport.usesTLS else {
                throw .init(text, "#name is only meaningful for tls://, https:// and quic://")
            }
            guard tlsName?.isEmpty == false else { throw .init(text, "empty TLS name after #") }
        }
        var path = "/dns-query"
        if let slash = rest.firstIndex(of: "/") {
            guard transport == .https else { throw .init(text, "a path is only meaningful for https://") }
            path = String(rest[slash...])
            rest = rest[..<slash]
            guard path.count > 1, !path.contains("?"), path.allSatisfy({ !$0.isWhitespace }) else {
                throw .init(text, "the path must be non-empty, without spaces or a query string")
            }
        }
        var host: Substring
        var portText: Substring? = nil
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw .init(text, "unclosed [ in IPv6 address") }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw .init(text, "unexpected text after ]") }
                portText = after.dropFirst()
            }
        } else if rest.filter({ $0 == ":" }).count == 1, let colon = rest.firstIndex(of: ":") {
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        } else {
            host = rest
        }
        guard !host.isEmpty else { throw .init(text, "missing host") }
        var port: Int? = nil
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else {
                throw .init(text, "port '\(portText)' is not a number from 1 to 65535")
            }
            port = value
        }
        self.init(transport: transport, host: String(host), port: port, tlsName: tlsName, path: path)
        if transport.usesTLS, self.tlsName == nil, !self.hostIsIPLiteral {
            self.tlsName = self.host
        }
    }

    /// Whether `host` is an IPv4 or IPv6 literal rather than a name.
    public var hostIsIPLiteral: Bool {
        self.host.contains(":") || self.host.split(separator: ".").count == 4
            && self.host.split(separator: ".").allSatisfy { UInt8($0) != nil }
    }

    public var description: String {
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        let name = self.tlsName.map { "#\($0)" } ?? ""
        let path = self.transport == .https ? self.path : ""
        return "\(self.transport.rawValue)://\(host):\(self.port)\(path)\(name)"
    }
}

/// An upstream URL that cannot be used; the description names the URL and what is wrong with it.
public struct UpstreamAddressError: Error, Hashable, Sendable, CustomStringConvertible {
    public let text: String
    public let reason: String

    init(_ text: String, _ reason: String) {
        self.text = text
        self.reason = reason
    }

    public var description: String { "invalid upstream '\(self.text)': \(self.reason)" }
}
