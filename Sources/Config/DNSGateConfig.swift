import Foundation
public import DNSCore
public import Logging
public import NIOCore

/// dnsgate's whole configuration, validated: every value here is usable as it is.
public struct DNSGateConfig: Sendable {
    /// Built-in upstreams when none are configured: two well-known public DoT resolvers.
    public static let defaultUpstreams = ["tls://9.9.9.9:853#dns.quad9.net", "tls://1.1.1.1:853#cloudflare-dns.com"]
    /// Built-in listen address when none is configured.
    public static let defaultListen = ["127.0.0.1:5353"]

    /// The listeners: plain DNS (UDP and TCP), DoT, DoH and DoQ.
    public var listeners: [ListenerAddress]
    /// The certificate chain and key files of the DoT, DoH and DoQ listeners (`tls.cert_file`, `tls.key_file`).
    public var listenerCertificate: (certificate: String, key: String)?
    /// The access control of listeners that set their own (`allow=`, `deny=` after the address), by
    /// ``ListenerAddress/id``; the others use ``accessControl``.
    public var listenerAccess: [Int: AccessControl]
    /// The default group's upstreams, in configured order.
    public var upstreams: [UpstreamSpec]
    /// How the default group picks among them and tracks their health.
    public var upstreamSelection: UpstreamSelectionSettings
    /// Plain-DNS servers that resolve upstream host names (`bootstrap`); empty: the system resolver.
    public var bootstrap: [UpstreamAddress]
    /// Domains whose queries go to upstreams of their own (`forward`).
    public var forwarding: [ForwardingRule]
    /// PEM files with extra trust anchors for DoT upstreams, added to the system's.
    public var caFiles: [String]
    /// How long a client waits at most for an answer.
    public var queryTimeout: TimeAmount
    /// How long one upstream gets before the next is tried (the last gets what is left of `queryTimeout`).
    public var upstreamAttemptTimeout: TimeAmount
    public var upstreamConnectTimeout: TimeAmount
    public var upstreamIdleTimeout: TimeAmount
    /// Connections per upstream per thread at most.
    public var upstreamConnectionsPerThread: Int
    /// Queries in flight on a connection from which the thread's next connection to the upstream is used.
    public var upstreamQueriesPerConnection: Int
    /// Queries in flight per upstream connection.
    public var upstreamMaxInFlight: Int
    public var tcpIdleTimeout: TimeAmount
    public var tcpMaxConnections: Int
    /// TCP, DoT and DoH connections open at once from one client address.
    public var tcpMaxConnectionsPerClient: Int
    public var tcpMaxQueriesPerConnection: Int
    /// Event loop threads; 0 means automatic (half the cores, at least one).
    public var threads: Int
    /// How long shutdown waits for queries in flight.
    public var shutdownGracePeriod: TimeAmount
    public var logLevel: Logger.Level
    /// The response cache's limits, or nil when caching is off.
    public var cache: CachePolicy?
    /// Where the cache's fresh answers are saved on shutdown and read back on start (`cache.save_file`), or nil.
    public var cacheSaveFile: String?
    /// The Redis server whose answers this instance shares with others (`cache.redis`), or nil.
    public var cacheRedis: RedisURL?
    /// How long a cache miss waits for Redis before it goes upstream (`cache.redis_timeout`).
    public var cacheRedisTimeout: TimeAmount
    /// The virtual DNS addresses on a TUN device (`tun.*`), or nil when off.
    public var tun: TUNSettings?
    /// Fake-IP mode (`fakeip.*`), or nil when off.
    public var fakeIP: FakeIPSettings?
    /// The admin listener (`admin.*`), or nil when it is off.
    public var admin: AdminSettings?
    /// Who may query (`acl.*`).
    public var accessControl: AccessControl
    /// Per-client rate limits (`rate_limit.*`), or nil when off.
    public var rateLimit: RateLimitSettings?
    /// Whether ANY queries get RFC 8482's minimal answer (`any_queries: minimal`, the default).
    public var minimalANY: Bool
    /// Names answered locally (`local.*`), or nil when there are none.
    public var localRecords: LocalRecords?
    /// Blocklists and client groups (`blocking.*`), or nil when off.
    public var blocking: BlockingSettings?
    /// The query log (`query_log.*`), or nil when off.
    public var queryLog: QueryLogSettings?
    /// DNSSEC validation (`dnssec.*`), or nil when off.
    public var dnssec: DNSSECSettings?

    /// `DNSGATE_*` environment variables that name no key (Kubernetes' service links left out): not an error, so
    /// that a deployment does not crash-loop over a variable it did not set; start-up warns once with ``ignoredVariablesWarning``.
    public var ignoredVariables: [UnknownConfigKey] = []

    /// The one line start-up logs about ``ignoredVariables``, or nil when there are none.
    public var ignoredVariablesWarning: String? {
        guard !self.ignoredVariables.isEmpty else { return nil }
        return "ignoring unknown environment variables: " + self.ignoredVariables.map { key in
            key.name + (key.hint.map { " (\($0))" } ?? "")
        }.joined(separator: ", ")
    }

    /// The addresses of the plain DNS listeners.
    public var listen: [SocketAddress] { self.listeners.filter { $0.kind == .plain }.map(\.address) }
}

/// Fake-IP mode: the pools, the answers, and where the mapping is kept.
public struct FakeIPSettings: Sendable {
    public var range: FakeIPRange
    public var range6: FakeIPRange?
    public var answer: FakeIPAnswerSettings
    /// The SQLite database of the mapping (`fakeip.database`).
    public var database: String
    /// The transparent proxy (`fakeip.proxy.*`), or nil when it has no listen address.
    public var proxy: TransparentProxySettings?

    /// `/var/lib/dnsgate/fakeip.sqlite` for root, else under `$XDG_DATA_HOME` (`~/.local/share`).
    public static func defaultDatabase(environment: [String: String]) -> String {
        if getuid() == 0 { return "/var/lib/dnsgate/fakeip.sqlite" }
        let data = environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (environment["HOME"] ?? ".") + "/.local/share"
        return data + "/dnsgate/fakeip.sqlite"
    }
}

/// The TUN device that carries the virtual resolver addresses.
public struct TUNSettings: Sendable, Hashable {
    public static let defaultAddresses = ["169.254.53.53", "fd53:7a9c:1e42::53"]
    public static let defaultDeviceAddresses = ["169.254.53.1", "fd53:7a9c:1e42::1"]

    /// The device's name (`tun.name`).
    public var name: String
    public var mtu: Int
    /// The virtual resolver addresses answered on the device (`tun.addresses`).
    public var addresses: [IPAddress]
    /// The device's own addresses, which replies come from the other way, with the prefixes routed into the
    /// device (`tun.device_addresses`).
    public var deviceAddresses: [IPInterfaceAddress]
    public var maxTCPConnections: Int
}
