@testable import Config
import DNSCore
import Foundation
import Testing

@Suite struct ConfigLoaderTests {
    private func writeFile(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dnsgate-\(UUID().uuidString).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func defaultsNeedNoFile() async throws {
        let config = try await ConfigLoader.load(overrides: ConfigOverrides(), environment: [:])
        #expect(config.listen.map { "\($0)" } == ["[IPv4]127.0.0.1:5353"])
        #expect(config.upstreams.map(\.description) == ["tls://9.9.9.9:853#dns.quad9.net",
                                                        "tls://1.1.1.1:853#cloudflare-dns.com"])
        #expect(config.queryTimeout == .seconds(5))
        #expect(config.logLevel == .info)
    }

    @Test func fileThenEnvironmentThenFlags() async throws {
        let path = try self.writeFile("""
            listen: ["127.0.0.1:1053"]
            upstreams:
              - tls://192.0.2.1#file.test
            timeouts:
              query: 3s
            tcp:
              max_connections: 50
            log:
              level: debug
            """)
        let fileOnly = try await ConfigLoader.load(overrides: ConfigOverrides(configFile: path), environment: [:])
        #expect(fileOnly.listen.first?.port == 1053)
        #expect(fileOnly.upstreams.first?.address.tlsName == "file.test")
        #expect(fileOnly.queryTimeout == .seconds(3))
        #expect(fileOnly.tcpMaxConnections == 50)
        #expect(fileOnly.logLevel == .debug)

        let environment = ["DNSGATE_CONFIG": path, "DNSGATE_TIMEOUTS_QUERY": "750ms",
                           "DNSGATE_UPSTREAMS": "tcp://192.0.2.2:53,udp://192.0.2.3"]
        let withEnv = try await ConfigLoader.load(overrides: ConfigOverrides(), environment: environment)
        #expect(withEnv.queryTimeout == .milliseconds(750))
        #expect(withEnv.upstreams.map(\.description) == ["tcp://192.0.2.2:53", "udp://192.0.2.3:53"])
        #expect(withEnv.tcpMaxConnections == 50)

        let withFlags = try await ConfigLoader.load(
            overrides: ConfigOverrides(listen: ["[::1]:2053"], upstreams: ["tls://192.0.2.9:853#flag.test"]),
            environment: environment)
        #expect(withFlags.listen.first?.port == 2053)
        #expect(withFlags.upstreams.map(\.description) == ["tls://192.0.2.9:853#flag.test"])
        #expect(withFlags.queryTimeout == .milliseconds(750))
    }

    @Test(arguments: [
        (["DNSGATE_TIMEOUTS_QUERY": "soon"], "timeouts.query", "soon"),
        (["DNSGATE_THREADS": "-1"], "threads", "-1"),
        (["DNSGATE_LISTEN": "localhost:53"], "listen", "localhost:53"),
        (["DNSGATE_UPSTREAMS": "ftp://x"], "upstreams", "ftp://x"),
        (["DNSGATE_UPSTREAMS": "tls://192.0.2.1#192.0.2.1"], "upstreams", "tls://192.0.2.1#192.0.2.1"),
        (["DNSGATE_LOG_LEVEL": "loud"], "log.level", "loud"),
        (["DNSGATE_TCP_MAX_QUERIES_PER_CONNECTION": "0"], "tcp.max_queries_per_connection", "0"),
    ])
    func badValuesNameTheKeyAndValue(environment: [String: String], key: String, value: String) async {
        await #expect {
            _ = try await ConfigLoader.load(overrides: ConfigOverrides(), environment: environment)
        } throws: { error in
            guard let error = error as? ConfigError else { return false }
            return error.key == key && error.value == value && !error.allowed.isEmpty
        }
    }

    /// A list in a variable is split at commas, or given as a YAML flow sequence when its entries hold commas.
    @Test func variablesCarryListEntriesWithCommasAsAFlowSequence() async throws {
        let split = try await ConfigLoader.load(overrides: ConfigOverrides(), environment: [
            "DNSGATE_LISTEN": "127.0.0.1:5300, 127.0.0.2:5300"])
        #expect(split.listeners.map(\.description) == ["127.0.0.1:5300", "127.0.0.2:5300"])
        let flow = try await ConfigLoader.load(overrides: ConfigOverrides(), environment: [
            "DNSGATE_LISTEN": #"["127.0.0.1:5300 allow=10.0.0.0/8,192.168.0.0/16", '127.0.0.2:5300']"#])
        #expect(flow.listeners.map(\.description) == ["127.0.0.1:5300", "127.0.0.2:5300"])
        let access = try #require(flow.listenerAccess[flow.listeners[0].id])
        #expect(access.allow.prefixes.map(\.description) == ["10.0.0.0/8", "192.168.0.0/16"])
        await #expect {
            _ = try await ConfigLoader.load(overrides: ConfigOverrides(), environment: ["DNSGATE_LISTEN": "[a, [b]"])
        } throws: { error in
            (error as? ConfigError)?.key == "DNSGATE_LISTEN"
        }
    }

    /// Each listener scheme with its default port: plain 53, DoT 853, DoH 443 on /dns-query, DoQ 853 (UDP).
    @Test func listenerSchemesAndTheirDefaultPorts() async throws {
        let config = try await ConfigLoader.load(
            overrides: ConfigOverrides(listen: ["127.0.0.1", "tls://127.0.0.1", "https://127.0.0.1",
                                                "quic://[::1]"]),
            environment: ["DNSGATE_TLS_CERT_FILE": "/dev/null", "DNSGATE_TLS_KEY_FILE": "/dev/null"])
        #expect(config.listeners.map(\.description) == ["127.0.0.1:53", "tls://127.0.0.1:853",
                                                        "https://127.0.0.1:443/dns-query", "quic://[::1]:853"])
        #expect(config.listeners.last?.kind == .quic && config.listeners.last?.isEncrypted == true)
    }

    @Test func aFileWithOnlyCommentsSetsNothing() async throws {
        let path = try self.writeFile("# nothing set yet\n\n   # indented comment\n")
        let config = try await ConfigLoader.load(overrides: ConfigOverrides(configFile: path), environment: [:])
        #expect(config.listen.first?.port == 5353)
    }

    @Test func cacheSettings() async throws {
        let path = try self.writeFile("cache:\n  max_size: 8MiB\n  min_ttl: 10s\n  serve_stale_max: 1h\n  prefetch: off\n")
        let config = try await ConfigLoader.load(overrides: ConfigOverrides(configFile: path), environment: [:])
        let cache = try #require(config.cache)
        #expect(cache.maxBytes == 8 << 20)
        #expect(cache.minTTL == 10)
        #expect(cache.maxStale == 3600)
        #expect(!cache.prefetch)
        let off = try await ConfigLoader.load(overrides: ConfigOverrides(), environment: ["DNSGATE_CACHE_ENABLED": "false"])
        #expect(off.cache == nil)
        await #expect(throws: ConfigError(key: "cache.servfail_ttl", value: "10m",
                                          allowed: "whole seconds from 0 to 300, such as 0, 30s or 1h")) {
            _ = try await ConfigLoader.load(overrides: ConfigOverrides(),
                                            environment: ["DNSGATE_CACHE_SERVFAIL_TTL": "10m"])
        }
        await #expect(throws: ConfigError.self) {
            _ = try await ConfigLoader.load(overrides: ConfigOverrides(), environment: ["DNSGATE_CACHE_MAX_SIZE": "lots"])
        }
    }

    @Test func sharedRedisTier() async throws {
        #expect(try await ConfigLoader.load(overrides: ConfigOverrides(), environment: [:]).cacheRedis == nil)
        let path = try self.writeFile("cache:\n  redis: redis://:pw@127.0.0.1:6380/2\n  redis_timeout: 10ms\n")
        let config = try await ConfigLoader.load(overrides: ConfigOverrides(configFile: path), environment: [:])
        #expect(config.cacheRedis?.port == 6380)
        #expect(config.cacheRedis?.database == 2)
        #expect(config.cacheRedisTimeout == .milliseconds(10))
        await #expect {
            _ = try await ConfigLoader.load(overrides: ConfigOverrides(),
                                            environment: ["DNSGATE_CACHE_REDIS": "rediss://secure:6379"])
        } throws: { error in
            (error as? ConfigError)?.key == "cache.redis"
        }
    }

    /// A bad value with a password in it is reported with the password masked, as `/api/v1/config` shows it.
    @Test(arguments: [
        ("DNSGATE_CACHE_REDIS", "redis://admin:hunter2@127.0.0.1:notaport", "cache.redis",
         "redis://admin:***@127.0.0.1:notaport"),
        ("DNSGATE_FAKEIP_SOCKS5_SERVER", "socks5://joe:hunter2@proxy.example:1080", "fakeip.socks5.server",
         "socks5://joe:***@proxy.example:1080"),
    ])
    func passwordsInBadValuesAreMasked(variable: String, value: String, key: String, shown: String) async {
        var environment = [variable: value]
        if key.hasPrefix("fakeip") {
            environment["DNSGATE_FAKEIP_ENABLED"] = "true"
            environment["DNSGATE_FAKEIP_PROXY_LISTEN"] = "127.0.0.1:15400"
        }
        await #expect {
            _ = try await ConfigLoader.load(overrides: ConfigOverrides(), environment: environment)
        } throws: { error in
            let text = "\(error)"
            return (error as? ConfigError)?.key == key && text.contains(shown) && !text.contains("hunter2")
        }
        #expect(CredentialMasking.masked("socks5://[user:password@]IP:port") == "socks5://[user:password@]IP:port")
        #expect(CredentialMasking.masked("a redis://:pw@h:1/2 and https://x.example/p") == "a redis://:***@h:1/2 and https://x.example/p")
    }

    @Test func missingFileIsAnError() async {
        await #expect(throws: ConfigError.self) {
            _ = try await ConfigLoader.load(overrides: ConfigOverrides(configFile: "/nonexistent/dnsgate.yaml"),
                                            environment: [:])
        }
    }

    @Test func durations() {
        #expect(ConfigValueParsing.duration("250ms") == .milliseconds(250))
        #expect(ConfigValueParsing.duration("5s") == .seconds(5))
        #expect(ConfigValueParsing.duration("2m") == .minutes(2))
        #expect(ConfigValueParsing.duration("7") == .seconds(7))
        #expect(ConfigValueParsing.duration("x") == nil)
        #expect(ConfigValueParsing.duration("-1s") == nil)
    }
}

@Suite struct ExampleConfigTests {
    @Test func theShippedExampleFileIsValidAndMatchesTheDefaults() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let example = try await ConfigLoader.load(
            overrides: ConfigOverrides(configFile: root.appendingPathComponent("dnsgate.example.yaml").path),
            environment: [:])
        let defaults = try await ConfigLoader.load(overrides: ConfigOverrides(), environment: [:])
        #expect(example.upstreams == defaults.upstreams)
        #expect(example.queryTimeout == defaults.queryTimeout)
        #expect(example.upstreamAttemptTimeout == defaults.upstreamAttemptTimeout)
        #expect(example.tcpMaxConnections == defaults.tcpMaxConnections)
        #expect(example.shutdownGracePeriod == defaults.shutdownGracePeriod)
        #expect(example.listen.count == 2)
        #expect(example.tun == nil && defaults.tun == nil)
        let tun = try await ConfigLoader.load(overrides: ConfigOverrides(configFile: root.appendingPathComponent(
            "dnsgate.example.yaml").path), environment: ["DNSGATE_TUN_ENABLED": "true"]).tun
        #expect(tun?.addresses.map(\.description) == ["169.254.53.53", "fd53:7a9c:1e42::53"])
        #expect(tun?.mtu == 1500 && tun?.name == "dnsgate0")
        #expect(tun?.deviceAddresses.map(\.description) == ["169.254.53.1/32", "fd53:7a9c:1e42::1/128"])
        let fakeIP = try await ConfigLoader.load(overrides: ConfigOverrides(configFile: root.appendingPathComponent(
            "dnsgate.example.yaml").path), environment: ["DNSGATE_FAKEIP_ENABLED": "true"]).fakeIP
        #expect(fakeIP?.range.description == "198.18.0.0/15" && fakeIP?.range6 == nil)
        #expect(fakeIP?.answer.ttl == 60 && fakeIP?.answer.resolveFirst == true && fakeIP?.proxy == nil)
    }

    @Test func tunDeviceAddressesKeepTheirPrefixAndHostBits() async throws {
        let tun = try await ConfigLoader.load(overrides: ConfigOverrides(), environment: [
            "DNSGATE_TUN_ENABLED": "true", "DNSGATE_TUN_DEVICE_ADDRESSES": "100.90.128.2/24,fdf6:ae92:c3:1::2/64",
        ]).tun
        let addresses = try #require(tun?.deviceAddresses)
        #expect(addresses.map(\.description) == ["100.90.128.2/24", "fdf6:ae92:c3:1::2/64"])
        #expect(addresses.map(\.prefix.description) == ["100.90.128.0/24", "fdf6:ae92:c3:1::/64"])
    }

    @Test(arguments: [
        (["DNSGATE_TUN_ENABLED": "true", "DNSGATE_TUN_NAME": "a name with spaces"], "tun.name"),
        (["DNSGATE_TUN_ENABLED": "true", "DNSGATE_TUN_MTU": "576"], "tun.mtu"),
        (["DNSGATE_TUN_ENABLED": "true", "DNSGATE_TUN_ADDRESSES": "1.2.3.4,bogus"], "tun.addresses"),
        (["DNSGATE_TUN_ENABLED": "true", "DNSGATE_TUN_DEVICE_ADDRESSES": "169.254.53.1"], "tun.device_addresses"),
        (["DNSGATE_TUN_ENABLED": "true", "DNSGATE_TUN_DEVICE_ADDRESSES": "169.254.53.1/33,fd00::1"],
         "tun.device_addresses"),
        (["DNSGATE_FAKEIP_RANGE": "198.18.0.0/31"], "fakeip.range"),
        (["DNSGATE_FAKEIP_RANGE": "fd00::/64"], "fakeip.range"),
        (["DNSGATE_FAKEIP_RANGE6": "10.0.0.0/8"], "fakeip.range6"),
        (["DNSGATE_FAKEIP_EXCLUDE": "a*b"], "fakeip.exclude"),
        (["DNSGATE_FAKEIP_PROXY_LISTEN": "everywhere"], "fakeip.proxy.listen"),
        (["DNSGATE_FAKEIP_TTL": "2d"], "fakeip.ttl"),
    ])
    func badModeSettingsNameTheKey(environment: [String: String], key: String) async {
        // The fake-IP cases switch it on here; the TUN cases switch TUN on themselves.
        let enabled = key.hasPrefix("fakeip") ? ["DNSGATE_FAKEIP_ENABLED": "true"] : [:]
        await #expect {
            _ = try await ConfigLoader.load(overrides: ConfigOverrides(),
                                            environment: environment.merging(enabled) { $1 })
        } throws: { error in
            (error as? ConfigError)?.key == key
        }
    }

}
