/// Per-client query rate limits (`rate_limit.*`): a token bucket per client prefix.
public struct RateLimitSettings: Sendable, Hashable {
    /// What a client over its rate gets.
    public enum Action: String, Sendable, Hashable, CaseIterable {
        /// Over UDP, an empty answer with TC=1, so a real client retries over TCP (where it cannot spoof its
        /// address) and a spoofed flood gets nothing to amplify; over other transports, REFUSED.
        case truncate
        /// REFUSED with Extended DNS Error 18 (Prohibited).
        case refuse
        /// Nothing.
        case drop
    }

    /// Queries per second a prefix may send on average.
    public var queriesPerSecond: Double
    /// How many queries a prefix may send at once after a quiet spell.
    public var burst: Double
    /// The prefix length that makes up one IPv4 client (24: one bucket per /24).
    public var ipv4PrefixLength: Int
    /// The prefix length that makes up one IPv6 client (56).
    public var ipv6PrefixLength: Int
    public var action: Action
    /// Buckets kept at most; memory stays at this many slots however many sources appear.
    public var tableSize: Int

    public init(queriesPerSecond: Double, burst: Double? = nil, ipv4PrefixLength: Int = 24,
                ipv6PrefixLength: Int = 56, action: Action = .truncate, tableSize: Int = 65_536) {
        self.queriesPerSecond = queriesPerSecond
        self.burst = burst ?? queriesPerSecond
        self.ipv4PrefixLength = ipv4PrefixLength
        self.ipv6PrefixLength = ipv6PrefixLength
        self.action = action
        self.tableSize = tableSize
    }
}
