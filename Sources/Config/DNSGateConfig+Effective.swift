import DNSCore
import Foundation
import NIOCore

extension DNSGateConfig {
    /// The configuration in force as `key: value` text, keys as in the YAML file, secrets (passwords, the admin
    /// token) masked: what `dnsgate check-config` prints and `GET /api/v1/config` returns. A mode that is off shows
    /// only its `enabled` key.
    public var effectiveSettings: [String: String] {
        var settings: [String: String] = [
            "listen": self.listeners.map { listener in
                listener.description + (self.listenerAccess[listener.id].map {
                    " allow=\($0.allow.prefixes.map(\.description).joined(separator: ",")) deny="
                        + $0.deny.prefixes.map(\.description).joined(separator: ",")
                } ?? "")
            }.joined(separator: ", "),
            "tls.cert_file": self.listenerCertificate?.certificate ?? "none",
            "tls.key_file": self.listenerCertificate?.key ?? "none",
            "upstreams": self.upstreams.map(\.description).joined(separator: ", "),
            "tls.ca_files": self.caFiles.isEmpty ? "none" : self.caFiles.joined(separator: ", "),
            "timeouts.query": Self.text(self.queryTimeout),
            "upstream.attempt_timeout": Self.text(self.upstreamAttemptTimeout),
            "upstream.connect_timeout": Self.text(self.upstreamConnectTimeout),
            "upstream.idle_timeout": Self.text(self.upstreamIdleTimeout),
            "upstream.connections_per_thread": "\(self.upstreamConnectionsPerThread)",
            "upstream.queries_per_connection": "\(self.upstreamQueriesPerConnection)",
            "upstream.max_in_flight": "\(self.upstreamMaxInFlight)",
            "bootstrap": self.bootstrap.isEmpty ? "system resolver" : self.bootstrap.map(\.description).joined(separator: ", "),
            "forward": self.forwarding.isEmpty ? "none" : self.forwarding.map(\.description).joined(separator: ", "),
            "upstream.policy": "\(self.upstreamSelection.policy)",
            "upstream.hedging": "\(self.upstreamSelection.hedging)",
            "upstream.health.max_failures": "\(self.upstreamSelection.health.failureThreshold)",
            "upstream.health.backoff": Self.text(self.upstreamSelection.health.initialBackoff),
            "upstream.health.check_interval": self.upstreamSelection.check.map { Self.text($0.interval) } ?? "off",
            "upstream.health.check_query": self.upstreamSelection.check.map { "\($0.name) \($0.type)" } ?? "off",
            "tcp.idle_timeout": Self.text(self.tcpIdleTimeout),
            "tcp.max_connections": "\(self.tcpMaxConnections)",
            "tcp.max_connections_per_client": "\(self.tcpMaxConnectionsPerClient)",
            "tcp.max_queries_per_connection": "\(self.tcpMaxQueriesPerConnection)",
            "threads": "\(self.threads)",
            "shutdown_grace_period": Self.text(self.shutdownGracePeriod),
            "log.level": "\(self.logLevel)",
            "cache.enabled": "\(self.cache != nil)",
            "tun.enabled": "\(self.tun != nil)",
            "fakeip.enabled": "\(self.fakeIP != nil)",
            "admin.listen": self.admin.map(\.address.hostAndPort) ?? "off",
        ]
        if let cache = self.cache {
            settings["cache.max_size"] = "\(cache.maxBytes)"
            settings["cache.min_ttl"] = "\(cache.minTTL)s"
            settings["cache.max_ttl"] = "\(cache.maxTTL)s"
            settings["cache.max_negative_ttl"] = "\(cache.maxNegativeTTL)s"
            settings["cache.servfail_ttl"] = "\(cache.servFailTTL)s"
            settings["cache.serve_stale_max"] = "\(cache.maxStale)s"
            settings["cache.stale_ttl"] = "\(cache.staleTTL)s"
            settings["cache.stale_answer_timeout"] = Self.text(.nanoseconds(
                cache.staleAnswerTimeout.components.seconds * 1_000_000_000
                    + cache.staleAnswerTimeout.components.attoseconds / 1_000_000_000))
            settings["cache.prefetch"] = "\(cache.prefetch)"
            settings["cache.save_file"] = self.cacheSaveFile ?? "none"
            settings["cache.redis"] = self.cacheRedis.map(\.description) ?? "none"
            settings["cache.redis_timeout"] = Self.text(self.cacheRedisTimeout)
        }
        if let tun = self.tun {
            settings["tun.name"] = tun.name
            settings["tun.mtu"] = "\(tun.mtu)"
            settings["tun.addresses"] = tun.addresses.map(\.description).joined(separator: ", ")
            settings["tun.device_addresses"] = tun.deviceAddresses.map(\.description).joined(separator: ", ")
            settings["tun.max_tcp_connections"] = "\(tun.maxTCPConnections)"
        }
        if let fakeIP = self.fakeIP {
            settings["fakeip.range"] = fakeIP.range.description
            settings["fakeip.range6"] = fakeIP.range6?.description ?? "none"
            settings["fakeip.ttl"] = "\(fakeIP.answer.ttl)s"
            settings["fakeip.resolve_first"] = "\(fakeIP.answer.resolveFirst)"
            settings["fakeip.exclude"] = fakeIP.answer.exclude.map(\.description).joined(separator: ", ")
            settings["fakeip.database"] = fakeIP.database
            settings["fakeip.proxy.listen"] = fakeIP.proxy?.listen.map(\.hostAndPort).joined(separator: ", ") ?? "none"
            if let proxy = fakeIP.proxy {
                settings["fakeip.proxy.connect_timeout"] = Self.text(proxy.connectTimeout)
                settings["fakeip.proxy.idle_timeout"] = Self.text(proxy.idleTimeout)
                settings["fakeip.proxy.udp_idle_timeout"] = Self.text(proxy.udpIdleTimeout)
                settings["fakeip.proxy.journal"] = "\(proxy.journal)"
                settings["fakeip.reject"] = proxy.rules.filter { $0.action == .reject }.map(\.pattern.description)
                    .joined(separator: ", ")
                settings["fakeip.socks5.domains"] = proxy.rules.filter { $0.action == .socks5 }
                    .map(\.pattern.description).joined(separator: ", ")
                settings["fakeip.socks5.server"] = proxy.socks5?.description ?? "none"
            }
        }
        if let admin = self.admin {
            settings["admin.token"] = admin.token == nil ? "none" : "***"
            settings["admin.readiness_probe_interval"] = Self.text(admin.readinessProbeInterval)
        }
        settings.merge(self.edgeSettings) { $1 }
        return settings
    }

    /// A duration as the configuration writes it: `1500ms`, `5s`, `2m`.
    static func text(_ duration: TimeAmount) -> String {
        let milliseconds = duration.nanoseconds / 1_000_000
        if milliseconds % 60_000 == 0, milliseconds > 0 { return "\(milliseconds / 60_000)m" }
        if milliseconds % 1000 == 0 { return "\(milliseconds / 1000)s" }
        return "\(milliseconds)ms"
    }
}
