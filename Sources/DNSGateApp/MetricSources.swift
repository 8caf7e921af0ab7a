import Admin
import DNSCache
import DNSCore
import DNSSEC
import DNSUpstream
import FakeIP
import Foundation
import TransparentProxy
import TUNResponder

/// Every counter a running dnsgate keeps, gathered for `/metrics` and `/api/v1/stats`: read on demand (a scrape sums
/// them), never written here.
struct MetricSources: Sendable {
    /// The TUN responder's three packet counters: the filter, the responder and the device's writes.
    struct TUNCounters: Sendable {
        var filter: PacketStatistics
        var responder: PacketStatistics
        var device: PacketStatistics
    }

    let version: String
    let started: Date
    let queries: QueryMetrics
    /// The cache and the upstreams in use now (a reload replaces them).
    let currentCache: @Sendable () -> DNSResponseCache?
    let currentUpstreams: @Sendable () -> [ResolverUpstream]
    let tun: TUNCounters?
    let fakeIPPools: [FakeIPPool]
    let proxy: ConnectionJournal.Statistics?
    /// The query log, when it is on.
    let queryLog: QueryLog?
    /// Validation's statistics, when validation is on now.
    let dnssec: @Sendable () -> ValidationStatistics?

    /// `up` after an answer with no failure since, `down` after a failure with no answer since, else `unknown`.
    /// `down` (no client traffic until its back-off ends), `failing` (failed since its last answer, not yet
    /// down), `up`, or `unknown` before its first answer.
    static func state(of upstream: ResolverUpstream) -> String {
        if upstream.health.isDown { return "down" }
        let snapshot = upstream.statistics.snapshot
        if snapshot.consecutiveFailures > 0 { return "failing" }
        return snapshot.answered > 0 ? "up" : "unknown"
    }

    static func summary(_ latency: LatencyHistogram.Snapshot) -> LatencySummary {
        LatencySummary(p50: latency.quantile(0.5), p90: latency.quantile(0.9), p99: latency.quantile(0.99))
    }

    func cacheCounters() -> [String: Int]? {
        guard let snapshot = self.currentCache()?.snapshot else { return nil }
        return ["hits": snapshot.hits, "misses": snapshot.misses, "entries": snapshot.entries, "bytes": snapshot.bytes,
                "evictions": snapshot.evictions, "staleServed": snapshot.staleServed,
                "prefetches": snapshot.prefetches, "coalesced": snapshot.coalesced,
                "sharedHits": snapshot.sharedHits, "sharedMisses": snapshot.sharedMisses,
                "sharedFailures": snapshot.sharedFailures]
    }

    func tunCounters() -> [String: Int]? {
        guard let tun = self.tun else { return nil }
        let filter = tun.filter.snapshot
        var counters = ["packetsIn": filter.packetsIn, "answered": tun.responder.snapshot.handled,
                        "passedThrough": filter.passedThrough, "written": tun.device.snapshot.handled]
        for reason in PacketDropReason.allCases {
            counters["dropped_" + reason.rawValue] = tun.responder.drops(reason) + tun.device.drops(reason)
        }
        return counters
    }

    func fakeIPCounters() -> [String: Int]? {
        guard !self.fakeIPPools.isEmpty else { return nil }
        var counters = [
            "poolSize": self.fakeIPPools.reduce(0) { $0 + $1.range.capacity },
            "inUse": self.fakeIPPools.reduce(0) { $0 + $1.count },
            "recycled": self.fakeIPPools.reduce(0) { $0 + $1.recycled },
        ]
        if let proxy = self.proxy?.snapshot {
            counters["connectionsOpen"] = proxy.opened - proxy.closed
            counters["connections"] = proxy.opened
            counters["failed"] = proxy.failed
            counters["bytesFromClients"] = proxy.bytesSent
            counters["bytesToClients"] = proxy.bytesReceived
            counters["datagramsDropped"] = proxy.datagramsDropped
        }
        return counters
    }

    func upstreamStates() -> [UpstreamState] {
        self.currentUpstreams().map { upstream in
            let statistics = upstream.statistics
            let snapshot = statistics.snapshot
            return UpstreamState(
                name: statistics.name, state: Self.state(of: upstream), queries: snapshot.queries,
                answered: snapshot.answered,
                failures: Dictionary(uniqueKeysWithValues: snapshot.failures.map { ($0.key.rawValue, $0.value) }),
                inFlight: snapshot.inFlight, openConnections: snapshot.openConnections,
                latency: Self.summary(statistics.latency.snapshot), adjustments: upstream.adjustments)
        }
    }

    func stats() -> AdminStats {
        var byTransport: [String: Int] = [:]
        var byRcode: [String: Int] = [:]
        var total = 0
        let latency = LatencyHistogram.Snapshot.merged(DNSTransport.allCases.map { self.queries.latency(of: $0) })
        for transport in DNSTransport.allCases {
            for type in QueryMetrics.typeNames {
                for rcode in QueryMetrics.rcodeNames {
                    let count = self.queries.answered(transport: transport, type: type, rcode: rcode)
                    guard count > 0 else { continue }
                    byTransport[transport.rawValue, default: 0] += count
                    byRcode[rcode, default: 0] += count
                    total += count
                }
            }
        }
        let cache = self.cacheCounters()
        let lookups = (cache?["hits"] ?? 0) + (cache?["misses"] ?? 0)
        return AdminStats(
            uptimeSeconds: Date().timeIntervalSince(self.started), queries: total, queriesByTransport: byTransport,
            queriesByRcode: byRcode,
            answersBySource: Dictionary(uniqueKeysWithValues: DNSResponse.Origin.allCases.map {
                ($0.rawValue, self.queries.answered(from: $0))
            }),
            latency: Self.summary(latency), cache: cache,
            cacheHitRatio: cache == nil || lookups == 0 ? nil : Double(cache?["hits"] ?? 0) / Double(lookups),
            process: ProcessStatistics.current(), upstreams: self.upstreamStates(), tun: self.tunCounters(),
            fakeIP: self.fakeIPCounters())
    }
}
