import DNSFrontend
import NIOCore

/// The listeners (plain DNS, DoT, DoH), their certificate, and the TCP limits.
extension ConfigLoader {
    static let listenerKeys = [
        "listen", "tls.cert_file", "tls.key_file", "tcp.idle_timeout", "tcp.max_connections",
        "tcp.max_connections_per_client", "tcp.max_queries_per_connection",
    ]

    /// `listen` entries: `ADDRESS:PORT` (UDP and TCP), `tls://ADDRESS[:853]` (DoT) and
    /// `https://ADDRESS[:443][/path]` (DoH, path `/dns-query` by default).
    static func listeners(_ values: ConfigValues) throws -> [ListenerAddress] {
        let listeners = try values.list("listen", default: DNSGateConfig.defaultListen).map { text in
            var rest = Substring(text)
            var kind = ListenerAddress.Kind.plain
            var defaultPort = 53
            if rest.hasPrefix("tls://") {
                rest = rest.dropFirst("tls://".count)
                kind = .tls
                defaultPort = 853
            } else if rest.hasPrefix("https://") {
                rest = rest.dropFirst("https://".count)
                let slash = rest.firstIndex(of: "/") ?? rest.endIndex
                kind = .https(path: slash == rest.endIndex ? "/dns-query" : String(rest[slash...]))
                rest = rest[..<slash]
                defaultPort = 443
            }
            guard let address = ConfigValueParsing.socketAddress(String(rest), defaultPort: defaultPort) else {
                throw ConfigError(key: "listen", value: text, allowed: "an IP address with port, e.g. 127.0.0.1:53 or "
                                      + "[::1]:53, or a DoT or DoH listener: tls://127.0.0.1:853, "
                                      + "https://127.0.0.1:443/dns-query")
            }
            return ListenerAddress(address, kind: kind)
        }
        return listeners
    }

    /// The certificate and key files of the DoT and DoH listeners: both or neither, and both when there are such
    /// listeners.
    static func listenerCertificate(_ values: ConfigValues, listeners: [ListenerAddress]) throws
        -> (certificate: String, key: String)?
    {
        let certificate = try values.scalar("tls.cert_file")
        let key = try values.scalar("tls.key_file")
        switch (certificate, key) {
        case (let certificate?, let key?):
            return (certificate, key)
        case (nil, nil):
            if let encrypted = listeners.first(where: \.isEncrypted) {
                throw ConfigError(key: "tls.cert_file", value: "", allowed: "a PEM certificate chain file (with "
                                      + "tls.key_file) for the listener \(encrypted)")
            }
            return nil
        default:
            throw ConfigError(key: certificate == nil ? "tls.cert_file" : "tls.key_file", value: "",
                              allowed: "set together with \(certificate == nil ? "tls.key_file" : "tls.cert_file")")
        }
    }
}
