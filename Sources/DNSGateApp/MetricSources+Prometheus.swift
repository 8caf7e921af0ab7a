import Admin
import DNSCore
import DNSSEC
import DNSUpstream
import FakeIP
import Foundation
import TransparentProxy
import TUNResponder

/// The counters as Prometheus metric families: `dnsgate_` names, `_total` counters, seconds and bytes, and labels
/// from small fixed sets only (transport, type, code, the configured upstreams): never a client or a name.
extension MetricSources {
    func metricFamilies() -> [MetricFamily] {
        var families = self.processFamilies() + self.queryFamilies() + self.upstreamFamilies()
        families += self.cacheFamilies() + self.tunFamilies() + self.fakeIPFamilies() + self.dnssecFamilies()
        if let log = self.queryLog {
            families.append(Self.counter("dnsgate_query_log_dropped_total",
                                         "Query log lines dropped because the writer fell behind.",
                                         [.init(value: Double(log.dropped))]))
        }
        return families
    }

    private func processFamilies() -> [MetricFamily] {
        let process = ProcessStatistics.current()
        return [
            Self.gauge("dnsgate_build_info", "The running version.", [.init(labels: [("version", self.version)], value: 1)]),
            Self.gauge("dnsgate_process_start_time_seconds", "When the process started, in seconds since the epoch.",
                       [.init(value: self.started.timeIntervalSince1970.rounded())]),
            Self.gauge("dnsgate_process_resident_memory_bytes", "Resident memory.",
                       [.init(value: Double(process.residentBytes))]),
            Self.counter("dnsgate_process_cpu_seconds_total", "User and system CPU time.",
                         [.init(value: process.cpuSeconds)]),
            Self.gauge("dnsgate_process_open_fds", "Open file descriptors.", [.init(value: Double(process.openDescriptors))]),
        ]
    }

    private func queryFamilies() -> [MetricFamily] {
        var answered: [MetricFamily.Sample] = []
        var latency: [MetricFamily.Sample] = []
        for transport in DNSTransport.allCases {
            for type in QueryMetrics.typeNames {
                for rcode in QueryMetrics.rcodeNames {
                    let count = self.queries.answered(transport: transport, type: type, rcode: rcode)
                    guard count > 0 else { continue }
                    answered.append(.init(labels: [("transport", transport.rawValue), ("type", type), ("rcode", rcode)],
                                          value: Double(count)))
                }
            }
            let histogram = self.queries.latency(of: transport)
            if histogram.count > 0 || transport == .udp || transport == .tcp {
                latency += Self.histogramSamples(histogram, labels: [("transport", transport.rawValue)])
            }
        }
        return [
            Self.counter("dnsgate_queries_total", "Queries answered, by transport, query type and response code.",
                         answered),
            Self.counter("dnsgate_answers_total", "Answers by where they came from.",
                         DNSResponse.Origin.allCases.map {
                             .init(labels: [("source", $0.rawValue)], value: Double(self.queries.answered(from: $0)))
                         }),
            MetricFamily(name: "dnsgate_request_duration_seconds", help: "Time from query to answer, by transport.",
                         kind: .histogram, samples: latency),
        ]
    }

    /// Validation's verdicts, bogus reasons, DO-blind upstream answers and time, when validation is on.
    private func dnssecFamilies() -> [MetricFamily] {
        guard let validation = self.dnssec() else { return [] }
        return [
            Self.counter("dnsgate_dnssec_answers_total", "Validated answers by DNSSEC state.",
                         DNSSECStatus.allCases.map {
                             .init(labels: [("state", $0.rawValue)], value: Double(validation.answers($0)))
                         }),
            Self.counter("dnsgate_dnssec_bogus_total", "Bogus answers by reason.", BogusReason.allCases.map {
                .init(labels: [("reason", $0.rawValue)], value: Double(validation.bogus($0)))
            }),
            Self.counter("dnsgate_dnssec_unsigned_upstream_answers_total",
                         "Upstream answers to DO queries without the DO bit or without the RRSIGs of a DNSKEY set.",
                         [.init(value: Double(validation.unsignedUpstreamAnswers))]),
            MetricFamily(name: "dnsgate_dnssec_validation_duration_seconds",
                         help: "Time from an upstream answer to its verdict, DS and DNSKEY fetches included.",
                         kind: .histogram, samples: Self.histogramSamples(validation.latency.snapshot, labels: [])),
        ]
    }

    private func upstreamFamilies() -> [MetricFamily] {
        let upstreams = self.currentUpstreams()
        let all = upstreams.map { ($0.statistics.name, $0.statistics.snapshot, $0.statistics.latency.snapshot) }
        func each(_ value: (UpstreamStatistics.Snapshot) -> Int) -> [MetricFamily.Sample] {
            all.map { .init(labels: [("upstream", $0.0)], value: Double(value($0.1))) }
        }
        return [
            Self.counter("dnsgate_upstream_queries_total", "Queries sent to each upstream.", each(\.queries)),
            Self.counter("dnsgate_upstream_failures_total", "Failed upstream queries, by kind.", all.flatMap { item in
                UpstreamStatistics.FailureKind.allCases.map {
                    .init(labels: [("upstream", item.0), ("kind", $0.rawValue)], value: Double(item.1.failures[$0] ?? 0))
                }
            }),
            Self.gauge("dnsgate_upstream_in_flight", "Queries waiting for each upstream.", each(\.inFlight)),
            MetricFamily(name: "dnsgate_upstream_latency_seconds", help: "Round trips of answered upstream queries.",
                         kind: .histogram,
                         samples: all.flatMap { Self.histogramSamples($0.2, labels: [("upstream", $0.0)]) }),
            Self.gauge("dnsgate_upstream_open_connections", "Open connections to each upstream.",
                       each(\.openConnections)),
            Self.counter("dnsgate_upstream_tls_handshakes_total", "Completed TLS handshakes.", each(\.tlsHandshakes)),
            Self.counter("dnsgate_upstream_tls_resumed_sessions_total",
                         "TLS handshakes that resumed an earlier session (no certificate sent).",
                         each(\.tlsResumedSessions)),
            Self.counter("dnsgate_upstream_reconnects_total", "Connections opened after an earlier one.",
                         each(\.reconnects)),
            Self.gauge("dnsgate_upstream_up", "0 while an upstream is down (failed repeatedly, no answer since), else 1.",
                       upstreams.map { .init(labels: [("upstream", $0.statistics.name)],
                                             value: $0.health.isDown ? 0 : 1) }),
        ]
    }

    private func cacheFamilies() -> [MetricFamily] {
        guard let cache = self.cacheCounters() else { return [] }
        let value = { (key: String) in [MetricFamily.Sample(value: Double(cache[key] ?? 0))] }
        return [
            Self.counter("dnsgate_cache_hits_total", "Queries answered from the cache.", value("hits")),
            Self.counter("dnsgate_cache_misses_total", "Queries the cache could not answer.", value("misses")),
            Self.gauge("dnsgate_cache_entries", "Answers held.", value("entries")),
            Self.gauge("dnsgate_cache_bytes", "Memory held by cached answers.", value("bytes")),
            Self.counter("dnsgate_cache_evictions_total", "Answers evicted to stay within the size.", value("evictions")),
            Self.counter("dnsgate_cache_stale_answers_total", "Expired answers served (RFC 8767).", value("staleServed")),
            Self.counter("dnsgate_cache_prefetches_total", "Popular answers refreshed before they expired.",
                         value("prefetches")),
            Self.counter("dnsgate_cache_coalesced_total", "Queries that shared another's upstream query.",
                         value("coalesced")),
            Self.counter("dnsgate_cache_shared_hits_total", "Misses answered by the shared (Redis) tier.",
                         value("sharedHits")),
            Self.counter("dnsgate_cache_shared_misses_total", "Misses the shared tier could not answer.",
                         value("sharedMisses")),
            Self.counter("dnsgate_cache_shared_failures_total", "Shared-tier reads that failed or timed out.",
                         value("sharedFailures")),
        ]
    }

    private func tunFamilies() -> [MetricFamily] {
        guard let tun = self.tun else { return [] }
        let filter = tun.filter.snapshot
        return [
            Self.counter("dnsgate_tun_packets_total", "Packets read from the TUN device, by outcome.", [
                .init(labels: [("outcome", "answered")], value: Double(tun.responder.snapshot.handled)),
                .init(labels: [("outcome", "passed_through")], value: Double(filter.passedThrough)),
                .init(labels: [("outcome", "received")], value: Double(filter.packetsIn)),
            ]),
            Self.counter("dnsgate_tun_packets_dropped_total", "Packets dropped, by reason.",
                         PacketDropReason.allCases.map {
                             .init(labels: [("reason", $0.rawValue)],
                                   value: Double(tun.responder.drops($0) + tun.device.drops($0)))
                         }),
        ]
    }

    private func fakeIPFamilies() -> [MetricFamily] {
        guard !self.fakeIPPools.isEmpty else { return [] }
        func perPool(_ value: (FakeIPPool) -> Int) -> [MetricFamily.Sample] {
            self.fakeIPPools.map { pool in
                MetricFamily.Sample(labels: [("family", pool.range.prefix.address.isIPv4 ? "ipv4" : "ipv6")],
                                    value: Double(value(pool)))
            }
        }
        var families = [
            Self.gauge("dnsgate_fakeip_pool_size", "Addresses in each fake range.", perPool(\.range.capacity)),
            Self.gauge("dnsgate_fakeip_addresses_in_use", "Addresses mapped to a name.", perPool(\.count)),
            Self.counter("dnsgate_fakeip_recycled_total", "Mappings recycled for another name.", perPool(\.recycled)),
        ]
        if let proxy = self.proxy {
            let snapshot = proxy.snapshot
            families += [
                Self.gauge("dnsgate_proxy_connections_open", "Proxied connections and UDP flows open now.",
                           [.init(value: Double(snapshot.opened - snapshot.closed))]),
                Self.counter("dnsgate_proxy_connections_total", "Proxied connections and UDP flows opened.",
                             [.init(value: Double(snapshot.opened))]),
                Self.counter("dnsgate_proxy_dial_failures_total", "Connections reset, by the dialer meant to carry them.",
                             proxy.failures.sorted { $0.key < $1.key }.map {
                                 .init(labels: [("dialer", $0.key)], value: Double($0.value))
                             }),
                Self.counter("dnsgate_proxy_bytes_total", "Bytes relayed, by direction.", [
                    .init(labels: [("direction", "from_clients")], value: Double(snapshot.bytesSent)),
                    .init(labels: [("direction", "to_clients")], value: Double(snapshot.bytesReceived)),
                ]),
                Self.counter("dnsgate_proxy_datagrams_dropped_total", "UDP datagrams dropped whole (never cut).",
                             [.init(value: Double(snapshot.datagramsDropped))]),
            ]
        }
        return families
    }

    private static func counter(_ name: String, _ help: String, _ samples: [MetricFamily.Sample]) -> MetricFamily {
        MetricFamily(name: name, help: help, kind: .counter, samples: samples)
    }

    private static func gauge(_ name: String, _ help: String, _ samples: [MetricFamily.Sample]) -> MetricFamily {
        MetricFamily(name: name, help: help, kind: .gauge, samples: samples)
    }

    /// A histogram's `_bucket` (cumulative, with `le`), `_sum` and `_count` samples.
    private static func histogramSamples(_ histogram: LatencyHistogram.Snapshot, labels: [(String, String)])
        -> [MetricFamily.Sample]
    {
        var samples = zip(LatencyHistogram.bounds, histogram.cumulative).map { bound, count in
            MetricFamily.Sample(suffix: "_bucket", labels: labels + [("le", PrometheusExposition.format(bound))],
                                value: Double(count))
        }
        samples.append(.init(suffix: "_bucket", labels: labels + [("le", "+Inf")], value: Double(histogram.count)))
        samples.append(.init(suffix: "_sum", labels: labels, value: histogram.sum))
        samples.append(.init(suffix: "_count", labels: labels, value: Double(histogram.count)))
        return samples
    }
}
