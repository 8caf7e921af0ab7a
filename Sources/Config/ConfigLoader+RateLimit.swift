import DNSCore

/// Amplification defence: per-client rate limits (`rate_limit.*`) and minimal answers to ANY (`any_queries`).
extension ConfigLoader {
    static let rateLimitKeys = [
        "rate_limit.qps", "rate_limit.burst", "rate_limit.ipv4_prefix", "rate_limit.ipv6_prefix",
        "rate_limit.action", "rate_limit.table_size", "any_queries",
    ]

    /// What ANY queries get.
    public enum ANYQueries: String, Sendable, CaseIterable {
        /// The HINFO answer of RFC 8482.
        case minimal
        /// Forwarded like any other query.
        case forward
    }

    /// The limits, or nil when `rate_limit.qps` is 0 or unset (off).
    static func rateLimit(_ values: ConfigValues) throws -> RateLimitSettings? {
        let qps = try values.int("rate_limit.qps", default: 0, in: 0...10_000_000)
        guard qps > 0 else { return nil }
        let burst = try values.int("rate_limit.burst", default: 0, in: 0...65_535)
        return RateLimitSettings(
            queriesPerSecond: Double(qps),
            burst: Double(burst == 0 ? min(qps, 65_535) : burst),
            ipv4PrefixLength: try values.int("rate_limit.ipv4_prefix", default: 24, in: 8...32),
            ipv6PrefixLength: try values.int("rate_limit.ipv6_prefix", default: 56, in: 16...128),
            action: try values.choice("rate_limit.action", default: RateLimitSettings.Action.truncate),
            tableSize: try values.int("rate_limit.table_size", default: 65_536, in: 1024...16_777_216))
    }
}
