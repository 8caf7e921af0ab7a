/// How long answers are kept and when they are served: the cache's configuration.
public struct CachePolicy: Sendable, Hashable {
    /// Memory for cached answers, in bytes (wire bytes plus bookkeeping).
    public var maxBytes: Int
    /// TTLs are raised to at least this many seconds.
    public var minTTL: UInt32
    /// TTLs are cut to at most this many seconds.
    public var maxTTL: UInt32
    /// Negative answers (NXDOMAIN, NODATA) are kept at most this long, whatever their SOA says.
    public var maxNegativeTTL: UInt32
    /// SERVFAIL from an upstream is kept this long; 0 keeps none (RFC 2308 §7.1 allows at most 5 minutes).
    public var servFailTTL: UInt32
    /// How long past expiry an answer may still be served when every upstream fails (RFC 8767); 0 disables.
    public var maxStale: UInt32
    /// The TTL a stale answer is served with (RFC 8767 §4 suggests 30 s).
    public var staleTTL: UInt32
    /// The client response timer of RFC 8767 §5: a query with a stale answer in the cache that the upstreams have
    /// not answered this long after it arrived gets the stale answer, while the refresh goes on (1.8 s, as the RFC
    /// suggests).
    public var staleAnswerTimeout: Duration
    /// Whether answers that were hit during their lifetime are refreshed shortly before they expire.
    public var prefetch: Bool

    public init(
        maxBytes: Int = 32 << 20,
        minTTL: UInt32 = 0,
        maxTTL: UInt32 = 86_400,
        maxNegativeTTL: UInt32 = 3_600,
        servFailTTL: UInt32 = 1,
        maxStale: UInt32 = 86_400,
        staleTTL: UInt32 = 30,
        staleAnswerTimeout: Duration = .milliseconds(1800),
        prefetch: Bool = true
    ) {
        self.maxBytes = maxBytes
        self.minTTL = minTTL
        self.maxTTL = maxTTL
        self.maxNegativeTTL = maxNegativeTTL
        self.servFailTTL = servFailTTL
        self.maxStale = maxStale
        self.staleTTL = staleTTL
        self.staleAnswerTimeout = staleAnswerTimeout
        self.prefetch = prefetch
    }
}
