/// Where and how to reach one upstream resolver: `tls://host[:port][#tls-name]`, `tcp://host[:port]` or
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
    }

    public var transport: Transport
    /// An IP address literal or a host name (resolved once per connection by the system resolver).
    public var host: String
    public var port: Int
    /// The name the upstream's certificate must carry, also sent as SNI. Defaults to `host` when that is a name.
    public var tlsName: String?

    public init(transport: Transport, host: String, port: Int? = nil, tlsName: String? = nil) {
        self.transport = transport
        self.host = host
        self.port = port ?? (transport == .tls ? 853 : 53)
        self.tlsName = tlsName
    }

    /// Parses the URL form. IPv6 literals go in brackets: `tls://[2620:fe::fe]:853#dns.quad9.net`.
    public init(parsing text: String) throws(UpstreamAddressError) {
        guard let schemeEnd = text.firstRange(of: "://") else { throw .init(text, "missing scheme (tls://, tcp:// or udp://)") }
        guard let transport = Transport(rawValue: String(text[..<schemeEnd.lowerBound]).lowercased()) else {
            throw .init(text, "unknown scheme '\(text[..<schemeEnd.lowerBound])' (allowed: tls, tcp, udp)")
        }
        var rest = Substring(text[schemeEnd.upperBound...])
        var tlsName: String? = nil
        if let hash = rest.firstIndex(of: "#") {
            tlsName = String(rest[rest.index(after: hash)...])
            rest = rest[..<hash]
            guard transport == .tls else { throw .init(text, "#name is only meaningful for tls://") }
            guard tlsName?.isEmpty == false else { throw .init(text, "empty TLS name after #") }
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
        self.init(transport: transport, host: String(host), port: port, tlsName: tlsName)
        if transport == .tls, self.tlsName == nil, !self.hostIsIPLiteral {
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
        return "\(self.transport.rawValue)://\(host):\(self.port)\(name)"
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
