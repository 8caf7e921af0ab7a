import DNSCore
import NIOCore

/// Fake-IP mode, its transparent proxy and the proxy's rules.
extension ConfigLoader {
    static let fakeIPKeys = [
        "fakeip.enabled", "fakeip.range", "fakeip.range6", "fakeip.ttl", "fakeip.resolve_first", "fakeip.exclude",
        "fakeip.database", "fakeip.proxy.listen", "fakeip.proxy.connect_timeout", "fakeip.proxy.idle_timeout",
        "fakeip.proxy.udp_idle_timeout", "fakeip.proxy.journal", "fakeip.reject", "fakeip.socks5.domains",
        "fakeip.socks5.server",
    ]

    static func fakeIPSettings(_ values: ConfigValues, environment: [String: String]) throws
        -> FakeIPSettings?
    {
        guard try values.bool("fakeip.enabled", default: false) else { return nil }
        func range(_ key: String, _ text: String, family: String) throws -> FakeIPRange {
            guard let prefix = IPPrefix(text), let range = FakeIPRange(prefix),
                prefix.address.isIPv4 == (family == "IPv4")
            else {
                throw ConfigError(key: key, value: text, allowed: "an \(family) prefix with room for addresses")
            }
            return range
        }
        let exclude = try values.list("fakeip.exclude", default: [], allowEmpty: true).map { text in
            guard let pattern = DomainPattern(text) else {
                throw ConfigError(key: "fakeip.exclude", value: text, allowed: "domains such as example.com or *.lan")
            }
            return pattern
        }
        return FakeIPSettings(
            range: try range("fakeip.range", try values.scalar("fakeip.range") ?? "198.18.0.0/15", family: "IPv4"),
            range6: try values.scalar("fakeip.range6").map { try range("fakeip.range6", $0, family: "IPv6") },
            answer: FakeIPAnswerSettings(
                ttl: try values.seconds("fakeip.ttl", default: 60, max: 86_400),
                exclude: exclude,
                resolveFirst: try values.bool("fakeip.resolve_first", default: true)),
            database: try values.scalar("fakeip.database") ?? FakeIPSettings.defaultDatabase(environment: environment),
            proxy: try Self.proxySettings(values))
    }

    private static func proxySettings(_ values: ConfigValues) throws -> TransparentProxySettings? {
        let listen = try values.list("fakeip.proxy.listen", default: [], allowEmpty: true).map { text in
            guard let address = ConfigValueParsing.socketAddress(text) else {
                throw ConfigError(key: "fakeip.proxy.listen", value: text, allowed: "an IP address with port, e.g. 0.0.0.0:15400")
            }
            return address
        }
        guard !listen.isEmpty else { return nil }
        let rejected = try values.list("fakeip.reject", default: [], allowEmpty: true).map { text in
            guard let pattern = DomainPattern(text) else {
                throw ConfigError(key: "fakeip.reject", value: text, allowed: "domains such as example.com or *.ads.example")
            }
            return ProxyRule(pattern: pattern, action: .reject)
        }
        let socksRules = try values.list("fakeip.socks5.domains", default: [], allowEmpty: true).map { text in
            guard let pattern = DomainPattern(text) else {
                throw ConfigError(key: "fakeip.socks5.domains", value: text, allowed: "domains such as example.com")
            }
            return ProxyRule(pattern: pattern, action: .socks5)
        }
        let socks5 = try values.scalar("fakeip.socks5.server").map { text in
            guard let server = Self.socks5Server(text) else {
                throw ConfigError(key: "fakeip.socks5.server", value: text,
                                  allowed: "socks5://[user:password@]IP:port, e.g. socks5://10.0.0.1:1080")
            }
            return server
        }
        if !socksRules.isEmpty, socks5 == nil {
            throw ConfigError(key: "fakeip.socks5.server", value: "", allowed: "a server, since fakeip.socks5.domains is set")
        }
        return TransparentProxySettings(
            listen: listen,
            connectTimeout: try values.duration("fakeip.proxy.connect_timeout", default: .seconds(3)),
            idleTimeout: try values.duration("fakeip.proxy.idle_timeout", default: .minutes(5)),
            udpIdleTimeout: try values.duration("fakeip.proxy.udp_idle_timeout", default: .seconds(60)),
            journal: try values.bool("fakeip.proxy.journal", default: false),
            rules: rejected + socksRules,
            socks5: socks5)
    }

    /// `socks5://[user:password@]address:port`.
    private static func socks5Server(_ text: String) -> SOCKS5Server? {
        guard text.hasPrefix("socks5://") else { return nil }
        var rest = Substring(text.dropFirst("socks5://".count))
        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at].split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            username = credentials.first.map(String.init)
            password = credentials.count == 2 ? String(credentials[1]) : nil
            rest = rest[rest.index(after: at)...]
        }
        guard let address = ConfigValueParsing.socketAddress(String(rest)) else { return nil }
        return SOCKS5Server(address: address, username: username, password: password)
    }
}
