import DNSCore
import NIOCore

/// The listeners (plain DNS, DoT, DoH), their certificate, and the TCP limits.
extension ConfigLoader {
    static let listenerKeys = [
        "listen", "tls.cert_file", "tls.key_file", "tcp.idle_timeout", "tcp.max_connections",
        "tcp.max_connections_per_client", "tcp.max_queries_per_connection",
    ]

    /// One `listen` entry: the listener and the access lists it sets for itself.
    struct ListenerEntry {
        var address: ListenerAddress
        /// `allow=CIDR[,CIDR...]`: replaces `acl.allow` for this listener.
        var allow: [IPPrefix]?
        /// `deny=CIDR[,CIDR...]`: added to `acl.deny` for this listener.
        var deny: [IPPrefix]
    }

    /// `listen` entries: `ADDRESS:PORT` (UDP and TCP), `tls://ADDRESS[:853]` (DoT) and
    /// `https://ADDRESS[:443][/path]` (DoH, path `/dns-query` by default), each optionally followed by `allow=` and
    /// `deny=` lists of prefixes.
    static func listeners(_ values: ConfigValues) throws -> [ListenerEntry] {
        try values.list("listen", default: DNSGateConfig.defaultListen).map { line in
            let fields = line.split(whereSeparator: \.isWhitespace).map(String.init)
            var entry = ListenerEntry(address: try Self.listener(fields.first ?? "", text: line), allow: nil, deny: [])
            for option in fields.dropFirst() {
                let parts = option.split(separator: "=", maxSplits: 1).map(String.init)
                let prefixes = try (parts.count == 2 ? parts[1] : "").split(separator: ",").map { text in
                    guard let prefix = IPPrefix(String(text)) else {
                        throw ConfigError(key: "listen", value: line, allowed: "allow= and deny= lists of address "
                                              + "prefixes, e.g. 'tls://0.0.0.0:853 allow=192.168.0.0/16'")
                    }
                    return prefix
                }
                switch parts.first {
                case "allow": entry.allow = prefixes
                case "deny": entry.deny = prefixes
                default:
                    throw ConfigError(key: "listen", value: line, allowed: "options allow=CIDR[,CIDR...] and "
                                          + "deny=CIDR[,CIDR...] after the address")
                }
            }
            return entry
        }
    }

    /// One listener URL (`127.0.0.1:53`, `tls://…`, `https://…`, `quic://…`).
    private static func listener(_ url: String, text: String) throws -> ListenerAddress {
        var rest = Substring(url)
        var kind = ListenerAddress.Kind.plain
        var defaultPort = 53
        if rest.hasPrefix("tls://") {
            rest = rest.dropFirst("tls://".count)
            kind = .tls
            defaultPort = 853
        } else if rest.hasPrefix("quic://") {
            rest = rest.dropFirst("quic://".count)
            kind = .quic
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
                                  + "[::1]:53, or a DoT, DoH or DoQ listener: tls://127.0.0.1:853, "
                                  + "https://127.0.0.1:443/dns-query, quic://127.0.0.1:853")
        }
        return ListenerAddress(address, kind: kind)
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
