import Configuration
import Foundation
import DNSCache
import DNSCore
import DNSUpstream
import FakeIP
import TransparentProxy
import Logging
import NIOCore
import RedisTier
import SystemPackage

/// Values given as command-line flags; they override the file and the environment.
public struct ConfigOverrides: Sendable {
    public var configFile: String?
    public var listen: [String]
    public var upstreams: [String]
    public var caFiles: [String]
    public var logLevel: String?

    public init(
        configFile: String? = nil,
        listen: [String] = [],
        upstreams: [String] = [],
        caFiles: [String] = [],
        logLevel: String? = nil
    ) {
        self.configFile = configFile
        self.listen = listen
        self.upstreams = upstreams
        self.caFiles = caFiles
        self.logLevel = logLevel
    }
}

/// Reads dnsgate's configuration from, in order of precedence, command-line flags, `DNSGATE_*` environment
/// variables and a YAML file, and validates it into a ``DNSGateConfig``.
public enum ConfigLoader {
    /// Loads and validates. `environment` defaults to the process environment.
    public static func load(
        overrides: ConfigOverrides,
        environment: [String: String]? = nil
    ) async throws -> DNSGateConfig {
        let environmentProvider =
            environment.map { EnvironmentVariablesProvider(environmentVariables: $0) } ?? EnvironmentVariablesProvider()
        let env = environmentProvider.prefixKeys(with: ["dnsgate"])
        let configFile = overrides.configFile ?? ConfigReader(provider: env).string(forKey: "config")
        var providers: [any ConfigProvider] = [InMemoryProvider(name: "flags", values: Self.values(of: overrides)), env]
        if let configFile {
            guard let contents = FileManager.default.contents(atPath: configFile) else {
                throw ConfigError(key: "config", value: configFile, allowed: "a readable YAML file (cannot read it)")
            }
            // A file with nothing but comments sets nothing; YAML calls it empty, not a mapping.
            let settings = String(decoding: contents, as: UTF8.self).split(whereSeparator: \.isNewline).filter {
                let line = $0.drop(while: { $0 == " " || $0 == "\t" })
                return !line.isEmpty && !line.hasPrefix("#") && line != "---"
            }
            if !settings.isEmpty {
                do {
                    providers.append(try await FileProvider<YAMLSnapshot>(filePath: FilePath(configFile)))
                } catch {
                    throw ConfigError(key: "config", value: configFile, allowed: "a readable YAML file (\(error))")
                }
            }
        }
        return try Self.validate(ConfigReader(providers: providers),
                                 environment: environment ?? ProcessInfo.processInfo.environment)
    }

    private static func values(of overrides: ConfigOverrides) -> [AbsoluteConfigKey: ConfigValue] {
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        if !overrides.listen.isEmpty { values["listen"] = ConfigValue(.stringArray(overrides.listen), isSecret: false) }
        if !overrides.upstreams.isEmpty {
            values["upstreams"] = ConfigValue(.stringArray(overrides.upstreams), isSecret: false)
        }
        if !overrides.caFiles.isEmpty {
            values["tls.ca_files"] = ConfigValue(.stringArray(overrides.caFiles), isSecret: false)
        }
        if let level = overrides.logLevel { values["log.level"] = ConfigValue(.string(level), isSecret: false) }
        return values
    }

    /// Turns raw values into a ``DNSGateConfig``, or throws a ``ConfigError`` for the first bad one.
    static func validate(_ reader: ConfigReader, environment: [String: String]) throws -> DNSGateConfig {
        let values = ConfigValues(reader: reader)
        let listen = try values.list("listen", default: DNSGateConfig.defaultListen).map { text in
            guard let address = ConfigValueParsing.socketAddress(text) else {
                throw ConfigError(key: "listen", value: text, allowed: "an IP address with port, e.g. 127.0.0.1:53 or [::1]:53")
            }
            return address
        }
        let upstreams = try values.list("upstreams", default: DNSGateConfig.defaultUpstreams).map { text in
            do {
                let address = try UpstreamAddress(parsing: text)
                if address.transport == .tls, let name = address.tlsName,
                    UpstreamAddress(transport: .tcp, host: name).hostIsIPLiteral
                {
                    throw ConfigError(key: "upstreams", value: text,
                                      allowed: "the name after # must be a DNS name, not an IP address")
                }
                return address
            } catch let error as UpstreamAddressError {
                throw ConfigError(key: "upstreams", value: text, allowed: error.reason)
            }
        }
        let levelText = try values.scalar("log.level") ?? "info"
        guard let logLevel = Logger.Level(rawValue: levelText.lowercased()) else {
            throw ConfigError(key: "log.level", value: levelText,
                              allowed: "one of trace, debug, info, notice, warning, error, critical")
        }
        let queryTimeout = try values.duration("timeouts.query", default: .seconds(5))
        return DNSGateConfig(
            listen: listen,
            upstreams: upstreams,
            caFiles: try values.list("tls.ca_files", default: [], allowEmpty: true),
            queryTimeout: queryTimeout,
            upstreamAttemptTimeout: try values.duration("upstream.attempt_timeout", default: .milliseconds(1500)),
            upstreamConnectTimeout: try values.duration("upstream.connect_timeout", default: .seconds(2)),
            upstreamIdleTimeout: try values.duration("upstream.idle_timeout", default: .seconds(30)),
            upstreamConnectionsPerThread: try values.int("upstream.connections_per_thread", default: 1, in: 1...16),
            upstreamMaxInFlight: try values.int("upstream.max_in_flight", default: 1000, in: 1...60_000),
            tcpIdleTimeout: try values.duration("tcp.idle_timeout", default: .seconds(10)),
            tcpMaxConnections: try values.int("tcp.max_connections", default: 1000, in: 1...1_000_000),
            tcpMaxQueriesPerConnection: try values.int("tcp.max_queries_per_connection", default: 100,
                                                       in: 1...65_535),
            threads: try values.int("threads", default: 0, in: 0...1024),
            shutdownGracePeriod: try values.duration("shutdown_grace_period", default: .seconds(5)),
            logLevel: logLevel,
            cache: try Self.cachePolicy(values),
            cacheSaveFile: try values.scalar("cache.save_file"),
            cacheRedis: try values.scalar("cache.redis").map { text in
                do {
                    return try RedisURL(text)
                } catch {
                    throw ConfigError(key: "cache.redis", value: text, allowed: "redis://[:password@]host[:port][/db]")
                }
            },
            cacheRedisTimeout: try values.duration("cache.redis_timeout", default: .milliseconds(25)),
            tun: try Self.tunSettings(values),
            fakeIP: try Self.fakeIPSettings(values, environment: environment)
        )
    }

    private static func fakeIPSettings(_ values: ConfigValues, environment: [String: String]) throws
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
            answer: FakeIPMiddleware.Settings(
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

    private static func tunSettings(_ values: ConfigValues) throws -> TUNSettings? {
        guard try values.bool("tun.enabled", default: false) else { return nil }
        func addresses(_ key: String, _ defaults: [String]) throws -> [IPAddress] {
            try values.list(key, default: defaults).map { text in
                guard let address = IPAddress(text) else {
                    throw ConfigError(key: key, value: text, allowed: "IPv4 or IPv6 addresses")
                }
                return address
            }
        }
        let name = try values.scalar("tun.name") ?? "dnsgate0"
        guard !name.isEmpty, name.utf8.count < 16, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) })
        else {
            throw ConfigError(key: "tun.name", value: name, allowed: "1 to 15 letters, digits, '-', '_' or '.'")
        }
        let virtual = try addresses("tun.addresses", TUNSettings.defaultAddresses)
        let device = try addresses("tun.device_addresses", TUNSettings.defaultDeviceAddresses)
        for family in [true, false] where virtual.contains(where: { $0.isIPv4 == family })
            && !device.contains(where: { $0.isIPv4 == family }) {
            throw ConfigError(key: "tun.device_addresses", value: device.map(\.description).joined(separator: ","),
                              allowed: "an \(family ? "IPv4" : "IPv6") address too, to answer from")
        }
        return TUNSettings(
            name: name,
            mtu: try values.int("tun.mtu", default: 1500, in: 1280...65_535),
            addresses: virtual,
            deviceAddresses: device,
            maxTCPConnections: try values.int("tun.max_tcp_connections", default: 256, in: 1...65_535))
    }

    private static func cachePolicy(_ values: ConfigValues) throws -> CachePolicy? {
        guard try values.bool("cache.enabled", default: true) else { return nil }
        let defaults = CachePolicy()
        let policy = CachePolicy(
            maxBytes: try values.byteSize("cache.max_size", default: defaults.maxBytes),
            minTTL: try values.seconds("cache.min_ttl", default: defaults.minTTL),
            maxTTL: try values.seconds("cache.max_ttl", default: defaults.maxTTL),
            maxNegativeTTL: try values.seconds("cache.max_negative_ttl", default: defaults.maxNegativeTTL),
            servFailTTL: try values.seconds("cache.servfail_ttl", default: defaults.servFailTTL, max: 300),
            maxStale: try values.seconds("cache.serve_stale_max", default: defaults.maxStale),
            staleTTL: try values.seconds("cache.stale_ttl", default: defaults.staleTTL),
            prefetch: try values.bool("cache.prefetch", default: defaults.prefetch))
        guard policy.minTTL <= policy.maxTTL else {
            throw ConfigError(key: "cache.min_ttl", value: "\(policy.minTTL)s",
                              allowed: "at most cache.max_ttl (\(policy.maxTTL)s)")
        }
        return policy
    }
}

/// Typed reads with errors that name the key.
private struct ConfigValues {
    let reader: ConfigReader

    func scalar(_ key: String) throws -> String? {
        if let value = self.reader.string(forKey: ConfigKey(key)) { return value }
        if self.reader.stringArray(forKey: ConfigKey(key)) != nil {
            throw ConfigError(key: key, value: "(a list)", allowed: "a single value")
        }
        return nil
    }

    func list(_ key: String, default defaultValue: [String], allowEmpty: Bool = false) throws -> [String] {
        let values = self.reader.stringArray(forKey: ConfigKey(key)) ?? self.reader.string(forKey: ConfigKey(key)).map {
            $0.split(separator: ",").map { $0.trimmingCharacters(in: " ") }
        }
        guard let values else { return defaultValue }
        guard !values.isEmpty || allowEmpty else { throw ConfigError(key: key, value: "", allowed: "at least one entry") }
        return values
    }

    func duration(_ key: String, default defaultValue: TimeAmount) throws -> TimeAmount {
        guard let text = try self.scalar(key) else { return defaultValue }
        guard let value = ConfigValueParsing.duration(text), value > .zero else {
            throw ConfigError(key: key, value: text, allowed: "a positive duration such as 500ms, 5s or 2m")
        }
        return value
    }

    /// A duration in whole seconds, 0 allowed (RFC 2308 §7.1 caps SERVFAIL caching at 300 s).
    func seconds(_ key: String, default defaultValue: UInt32, max: UInt32 = 604_800) throws -> UInt32 {
        guard let text = try self.scalar(key) else { return defaultValue }
        guard let value = ConfigValueParsing.duration(text), value.nanoseconds % 1_000_000_000 == 0,
            value.nanoseconds / 1_000_000_000 <= Int64(max)
        else {
            throw ConfigError(key: key, value: text, allowed: "whole seconds from 0 to \(max), such as 0, 30s or 1h")
        }
        return UInt32(value.nanoseconds / 1_000_000_000)
    }

    func bool(_ key: String, default defaultValue: Bool) throws -> Bool {
        guard let text = try self.scalar(key) else { return defaultValue }
        guard let value = ConfigValueParsing.bool(text) else {
            throw ConfigError(key: key, value: text, allowed: "true or false")
        }
        return value
    }

    func byteSize(_ key: String, default defaultValue: Int) throws -> Int {
        guard let text = try self.scalar(key) else { return defaultValue }
        guard let value = ConfigValueParsing.byteSize(text), value >= 64 << 10 else {
            throw ConfigError(key: key, value: text, allowed: "a size of at least 64KiB, such as 512KiB, 64MiB or 1GiB")
        }
        return value
    }

    func int(_ key: String, default defaultValue: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let text = try self.scalar(key) else { return defaultValue }
        guard let value = Int(text), range.contains(value) else {
            throw ConfigError(key: key, value: text,
                              allowed: "a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        String(self.drop(while: { $0 == set }).reversed().drop(while: { $0 == set }).reversed())
    }
}
