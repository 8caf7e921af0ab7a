import Admin
import Config
import DNSCore
import DNSFrontend
import DNSUpstream
import Foundation
import Logging
import NIOCore
import Synchronization
import TransparentProxy

/// Applies a re-read configuration to the running dnsgate, on SIGHUP or `POST /api/v1/reload`, one reload at a
/// time: upstreams and their timeouts, cache limits, the query timeout, fake-IP answers (exclusions, TTL,
/// resolve-first), listen addresses and the log level change at once, without dropping a query in flight; the
/// other settings take effect at the next start, and a reload that changes them says which. An invalid file is
/// rejected with one log line, and the running configuration stays.
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
    private let components: DNSGateComponents
    private let logger: Logger
    /// The TUN responder, once it runs.
    private var tun: RunningTUN?
    /// The admin API's token, once the admin listener runs.
    private var adminToken: AdminToken?

    init(config: DNSGateConfig, load: @escaping @Sendable () async throws -> DNSGateConfig,
         components: DNSGateComponents, logger: Logger) {
        self.current = Mutex(config)
        self.load = load
        self.components = components
        self.logger = logger
    }

    /// Lets reloads change the virtual addresses of `tun`.
    func attach(_ tun: RunningTUN) {
        self.tun = tun
    }

    /// Lets reloads change the admin API's token.
    func attach(_ token: AdminToken) {
        self.adminToken = token
    }

    /// Whether a change of `key` needs new upstreams (their list, forwarding rules, trust anchors or connection
    /// settings).
    static func concernsUpstreams(_ key: String) -> Bool {
        ["upstreams", "forward", "bootstrap", "tls.ca_files"].contains(key) || key.hasPrefix("upstream.")
    }

    static func isReloadable(_ key: String) -> Bool {
        Self.reloadable.contains { $0.hasSuffix(".") ? key.hasPrefix($0) : key == $0 }
    }

    /// Re-reads and applies the configuration; returns what changed, or throws (changing nothing) when the file
    /// is invalid or a new listen address cannot be bound.
    func reload() async throws -> String {
        let config: DNSGateConfig
        let upstream: any Upstream
        let running = self.current.withLock { $0 }
        let before = running.effectiveSettings
        var changed: [String] = []
        do {
            config = try await self.load()
            let after = config.effectiveSettings
            changed = Set(before.keys).union(after.keys).filter { before[$0] != after[$0] }.sorted()
            // The token is masked in the settings, so a new one shows only here.
            if running.admin?.token != config.admin?.token, !changed.contains("admin.token") {
                changed = (changed + ["admin.token"]).sorted()
            }
            // Unchanged upstream settings keep the upstreams and their open connections.
            upstream = changed.contains(where: Self.concernsUpstreams)
                ? try DNSGateService.makeUpstream(config, group: self.components.group, logger: self.logger)
                : self.components.upstream
        } catch {
            self.logger.error("configuration reload rejected; the running configuration stays",
                              metadata: ["error": "\(error)"])
            throw error
        }
        let replacesUpstream = changed.contains(where: Self.concernsUpstreams)
        do {
            try await self.components.frontend.listen(on: config.listeners)
        } catch {
            if replacesUpstream { await upstream.shutdown() }
            self.logger.error("configuration reload rejected; the running configuration stays",
                              metadata: ["error": "\(error)"])
            throw error
        }
        let replaced = self.components.replace(upstream: upstream, config: config)
        self.components.listenerCertificate?.reloadIfChanged()
        if let rules = config.fakeIP?.proxy?.rules { self.components.proxy?.rules.replace(with: rules) }
        if let tun = self.tun, let addresses = config.tun?.addresses { tun.serve(addresses) }
        LogLevelSetting.set(config.logLevel)
        if config.admin != nil { self.adminToken?.replace(with: config.admin?.token) }
        self.current.withLock { $0 = config }
        if replacesUpstream {
            // The old upstreams' queries have until their deadline; close them after that.
            let grace = config.queryTimeout + .seconds(1)
            Task {
                try? await Task.sleep(for: .nanoseconds(grace.nanoseconds))
                await replaced.shutdown()
            }
        }
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
