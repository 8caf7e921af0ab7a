import Config
import DNSCore
import DNSUpstream
import Foundation
import Logging
import NIOCore
import Synchronization

/// Applies a re-read configuration to the running dnsgate, on SIGHUP or `POST /api/v1/reload`, one reload at a
/// time, subsystem by subsystem: upstreams and their timeouts, cache limits, the query timeout, the edge policy,
/// fake-IP answers and proxy rules, the TUN addresses, listen addresses, the admin token and the log level change at
/// once, without dropping a query in flight; the other settings take effect at the next start, and a reload that
/// changes them says which. An invalid file, or a listen address that cannot be bound, is rejected with one log line,
/// and the running configuration stays.
actor ConfigurationReloader {
    /// Keys (or key prefixes, ending in a dot) a reload applies.
    static let reloadable = [
        "listen", "upstreams", "forward", "bootstrap", "tls.ca_files", "upstream.", "timeouts.query", "log.level",
        "cache.max_size", "cache.min_ttl", "cache.max_ttl", "cache.max_negative_ttl", "cache.servfail_ttl",
        "cache.serve_stale_max", "cache.stale_ttl", "cache.stale_answer_timeout", "cache.prefetch", "cache.redis_timeout",
        "fakeip.ttl", "fakeip.exclude", "fakeip.resolve_first", "fakeip.reject", "fakeip.socks5.domains", "tun.addresses",
        "acl.", "rate_limit.", "any_queries", "local.", "blocking.", "admin.token",
    ]

    /// The configuration in force, readable from anywhere.
    nonisolated let current: Mutex<DNSGateConfig>
    private let load: @Sendable () async throws -> DNSGateConfig
    private let upstreams: UpstreamSubsystem
    private let policy: PolicySubsystem
    private let answering: AnsweringSubsystem
    private let listeners: ListenerSubsystem
    private let interception: InterceptionSubsystem
    private let observability: ObservabilitySubsystem
    private let logger: Logger

    init(config: DNSGateConfig, load: @escaping @Sendable () async throws -> DNSGateConfig,
         upstreams: UpstreamSubsystem, policy: PolicySubsystem, answering: AnsweringSubsystem,
         listeners: ListenerSubsystem, interception: InterceptionSubsystem, observability: ObservabilitySubsystem,
         logger: Logger) {
        self.current = Mutex(config)
        self.load = load
        self.upstreams = upstreams
        self.policy = policy
        self.answering = answering
        self.listeners = listeners
        self.interception = interception
        self.observability = observability
        self.logger = logger
    }

    /// Whether a change of `key` needs new upstreams (their list, forwarding rules, trust anchors or connection
    /// settings).
    static func concernsUpstreams(_ key: String) -> Bool {
        ["upstreams", "forward", "bootstrap", "tls.ca_files"].contains(key) || key.hasPrefix("upstream.")
    }

    static func isReloadable(_ key: String) -> Bool {
        Self.reloadable.contains { $0.hasSuffix(".") ? key.hasPrefix($0) : key == $0 }
    }

    /// The keys whose values differ between `running` and `config`; the admin token is masked in the settings, so a
    /// new one is found by comparing it directly.
    static func changedKeys(from running: DNSGateConfig, to config: DNSGateConfig) -> [String] {
        let before = running.effectiveSettings, after = config.effectiveSettings
        var changed = Set(before.keys).union(after.keys).filter { before[$0] != after[$0] }
        if running.admin?.token != config.admin?.token { changed.insert("admin.token") }
        return changed.sorted()
    }

    /// Re-reads and applies the configuration; returns what changed, or throws (changing nothing) when the file
    /// is invalid or a new listen address cannot be bound.
    func reload() async throws -> String {
        let config: DNSGateConfig
        let changed: [String]
        var upstream: (any Upstream)?
        do {
            config = try await self.load()
            changed = Self.changedKeys(from: self.current.withLock { $0 }, to: config)
            _ = try ValidatorSetup.settings(for: config)
            // Unchanged upstream settings keep the upstreams and their open connections.
            if changed.contains(where: Self.concernsUpstreams) { upstream = try self.upstreams.build(config) }
            try await self.listeners.reload(config)
        } catch {
            await upstream?.shutdown()
            self.logger.error("configuration reload rejected; the running configuration stays",
                              metadata: ["error": "\(error)"])
            throw error
        }
        // The old upstreams' queries have until their deadline; they close after that.
        if let upstream { self.upstreams.replace(with: upstream, closingOldAfter: config.queryTimeout + .seconds(1)) }
        self.policy.reload(config)
        self.answering.reload(config)
        self.interception.reload(config)
        self.observability.reload(config)
        LogLevelSetting.set(config.logLevel)
        self.current.withLock { $0 = config }
        let applied = changed.filter(Self.isReloadable)
        let pending = changed.filter { !Self.isReloadable($0) }
        self.logger.notice("configuration reloaded", metadata: [
            "changed": "\(applied.joined(separator: ","))",
        ])
        if !pending.isEmpty {
            self.logger.warning("these settings change only at the next start", metadata: [
                "keys": "\(pending.joined(separator: ","))",
            ])
        }
        return "applied: \(applied.joined(separator: ", "))"
            + (pending.isEmpty ? "" : "; at the next start: \(pending.joined(separator: ", "))")
    }
}
