import DNSCore
import NIOCore

/// The response cache, its shared Redis tier and its warm-restart file.
extension ConfigLoader {
    static let cacheKeys = [
        "cache.enabled", "cache.max_size", "cache.min_ttl", "cache.max_ttl", "cache.max_negative_ttl",
        "cache.servfail_ttl", "cache.serve_stale_max", "cache.stale_ttl", "cache.stale_answer_timeout", "cache.prefetch", "cache.save_file",
        "cache.redis", "cache.redis_timeout",
    ]

    static func cachePolicy(_ values: ConfigValues) throws -> CachePolicy? {
        guard try values.bool("cache.enabled", default: true) else { return nil }
        let defaults = CachePolicy()
        let policy = CachePolicy(
            maxBytes: try values.byteSize("cache.max_size", default: defaults.maxBytes),
            minTTL: try values.seconds("cache.min_ttl", default: defaults.minTTL),
            maxTTL: try values.seconds("cache.max_ttl", default: defaults.maxTTL),
            maxNegativeTTL: try values.seconds("cache.max_negative_ttl", default: defaults.maxNegativeTTL),
            servFailTTL: try values.seconds("cache.servfail_ttl", default: defaults.servFailTTL, max: 300),
            maxStale: try values.seconds("cache.serve_stale_max", default: defaults.maxStale),
            staleTTL: try values.seconds("cache.stale_ttl", default: defaults.staleTTL),
            staleAnswerTimeout: .nanoseconds(try values.duration("cache.stale_answer_timeout",
                                                                 default: .milliseconds(1800)).nanoseconds),
            prefetch: try values.bool("cache.prefetch", default: defaults.prefetch))
        guard policy.minTTL <= policy.maxTTL else {
            throw ConfigError(key: "cache.min_ttl", value: "\(policy.minTTL)s",
                              allowed: "at most cache.max_ttl (\(policy.maxTTL)s)")
        }
        return policy
    }

    static func cacheRedis(_ values: ConfigValues) throws -> RedisURL? {
        try values.scalar("cache.redis").map { text in
            do {
                return try RedisURL(text)
            } catch {
                throw ConfigError(key: "cache.redis", value: text, allowed: "redis://[:password@]host[:port][/db]")
            }
        }
    }
}
