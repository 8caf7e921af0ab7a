/// The figures behind `GET /api/v1/stats` and the dashboard: the same counters as `/metrics`, summed.
public struct AdminStats: Codable, Sendable, Hashable {
    /// Seconds since dnsgate started.
    public var uptimeSeconds: Double
    /// Answered queries, in all and by transport, response code and source (cache, upstream, local).
    public var queries: Int
    public var queriesByTransport: [String: Int]
    public var queriesByRcode: [String: Int]
    public var answersBySource: [String: Int]
    /// Answer latency over every transport, in seconds (estimated from the histogram buckets).
    public var latency: LatencySummary
    /// Cache counters (hits, misses, entries, bytes, evictions, …) and the hit ratio, or nil when the cache is off.
    public var cache: [String: Int]?
    public var cacheHitRatio: Double?
    public var process: ProcessSummary
    public var upstreams: [UpstreamState]
    /// TUN packet counters, or nil when the TUN responder is off.
    public var tun: [String: Int]?
    /// Fake-IP pool and proxy journal counters, or nil when fake-IP mode is off.
    public var fakeIP: [String: Int]?

    public init(uptimeSeconds: Double, queries: Int, queriesByTransport: [String: Int], queriesByRcode: [String: Int],
                answersBySource: [String: Int], latency: LatencySummary, cache: [String: Int]?,
                cacheHitRatio: Double?, process: ProcessSummary, upstreams: [UpstreamState], tun: [String: Int]?,
                fakeIP: [String: Int]?) {
        self.uptimeSeconds = uptimeSeconds
        self.queries = queries
        self.queriesByTransport = queriesByTransport
        self.queriesByRcode = queriesByRcode
        self.answersBySource = answersBySource
        self.latency = latency
        self.cache = cache
        self.cacheHitRatio = cacheHitRatio
        self.process = process
        self.upstreams = upstreams
        self.tun = tun
        self.fakeIP = fakeIP
    }
}

/// Latency percentiles in seconds; nil before the first sample.
public struct LatencySummary: Codable, Sendable, Hashable {
    public var p50: Double?
    public var p90: Double?
    public var p99: Double?

    public init(p50: Double?, p90: Double?, p99: Double?) {
        self.p50 = p50
        self.p90 = p90
        self.p99 = p99
    }
}

/// The process's own resources.
public struct ProcessSummary: Codable, Sendable, Hashable {
    public var residentBytes: Int
    public var cpuSeconds: Double
    public var openDescriptors: Int

    public init(residentBytes: Int, cpuSeconds: Double, openDescriptors: Int) {
        self.residentBytes = residentBytes
        self.cpuSeconds = cpuSeconds
        self.openDescriptors = openDescriptors
    }
}

/// One upstream as `GET /api/v1/upstreams` shows it.
public struct UpstreamState: Codable, Sendable, Hashable {
    /// The upstream as configured.
    public var name: String
    /// `up` while it answers, `down` after failures with no answer since, `unknown` before it was asked.
    public var state: String
    public var queries: Int
    public var answered: Int
    public var failures: [String: Int]
    public var inFlight: Int
    public var openConnections: Int
    public var latency: LatencySummary
    /// What dnsgate changed in how it talks to the upstream after seeing how it behaves (`alpn=off`, `method=get`).
    public var adjustments: [String]

    public init(name: String, state: String, queries: Int, answered: Int, failures: [String: Int], inFlight: Int,
                openConnections: Int, latency: LatencySummary, adjustments: [String] = []) {
        self.name = name
        self.state = state
        self.queries = queries
        self.answered = answered
        self.failures = failures
        self.inFlight = inFlight
        self.openConnections = openConnections
        self.latency = latency
        self.adjustments = adjustments
    }
}
