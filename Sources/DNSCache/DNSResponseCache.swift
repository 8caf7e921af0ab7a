public import DNSCore
public import DNSWire
public import NIOCore

/// The response cache: sharded so that every event loop can serve hits at once, each shard byte-bounded with SIEVE
/// eviction. Time comes from an injected clock (monotonic nanoseconds) so that tests control it.
public final class DNSResponseCache: Sendable {
    /// What a lookup found.
    public enum Lookup: Sendable {
        /// A fresh answer, stored `age` seconds ago; `refresh` says it is popular and about to expire.
        case fresh(CachedAnswer, age: UInt32, refresh: Bool)
        /// An expired answer that may still be served if the upstreams fail.
        case stale(CachedAnswer)
        case miss
    }

    public let policy: CachePolicy
    public let statistics = CacheStatistics()
    private let shards: [CacheShard]
    private let clock: @Sendable () -> Int64

    /// - Parameter clock: monotonic nanoseconds; defaults to the system's monotonic clock.
    public init(policy: CachePolicy, shardCount: Int = 16,
                clock: @escaping @Sendable () -> Int64 = { Int64(NIODeadline.now().uptimeNanoseconds) }) {
        self.policy = policy
        let count = max(1, shardCount)
        self.shards = (0..<count).map { _ in CacheShard(budget: max(1, policy.maxBytes / count)) }
        self.clock = clock
    }

    private func shard(for key: CacheKey) -> CacheShard {
        self.shards[Int(UInt(bitPattern: key.digest) % UInt(self.shards.count))]
    }

    /// The cache clock's time.
    var now: Int64 { self.clock() }

    /// Every entry of every shard, oldest first within a shard.
    var allEntries: [CacheShard.Entry] { self.shards.flatMap(\.entries) }

    /// Looks `key` up now.
    public func lookup(_ key: CacheKey) -> Lookup {
        let now = self.clock()
        guard let entry = self.shard(for: key).lookup(key, now: now) else { return .miss }
        let age = UInt32(clamping: (now - entry.storedAt) / 1_000_000_000)
        guard age < entry.answer.lifetime else { return .stale(entry.answer) }
        // Popular (hit before) and in the last tenth of its life: worth refreshing before it expires.
        let refresh = self.policy.prefetch && entry.hits >= 2 && entry.answer.lifetime >= 10
            && (entry.answer.lifetime - age) * 10 <= entry.answer.lifetime && !entry.prefetching
        return .fresh(entry.answer, age: age, refresh: refresh)
    }

    /// Claims the refresh of `key`, so that only one prefetch runs per entry.
    public func beginPrefetch(_ key: CacheKey) -> Bool {
        self.shard(for: key).beginPrefetch(key)
    }

    /// Stores the upstream answer `message` under `key` now; returns what was stored, or nil when the policy says
    /// it is not cacheable.
    @discardableResult
    public func store(_ message: ByteBuffer, view: DNSMessageView, for key: CacheKey) -> CachedAnswer? {
        guard let answer = CachedAnswer(message: message, view: view, policy: self.policy) else { return nil }
        let now = self.clock()
        let lifetime = Int64(answer.lifetime) * 1_000_000_000
        let entry = CacheShard.Entry(answer: answer, dnssecOK: key.dnssecOK, checkingDisabled: key.checkingDisabled,
                                     storedAt: now,
                                     discardAt: now + lifetime + Int64(self.policy.maxStale) * 1_000_000_000)
        let evicted = self.shard(for: key).store(entry, for: key)
        if evicted > 0 { self.statistics.evictions.increment(by: evicted) }
        return answer
    }

    /// Removes the answers for `name` (every type and class, ignoring case), or every answer when `name` is nil;
    /// returns how many were removed.
    @discardableResult
    public func flush(_ name: DNSName? = nil) -> Int {
        self.shards.reduce(0) { removed, shard in
            removed + shard.removeAll { entry in name.map { entry.answer.isAnswer(for: $0) } ?? true }
        }
    }

    /// The counters and current size.
    public var snapshot: CacheStatistics.Snapshot {
        let usage = self.shards.reduce((entries: 0, bytes: 0)) {
            let shard = $1.usage
            return ($0.entries + shard.entries, $0.bytes + shard.bytes)
        }
        let stats = self.statistics
        return .init(entries: usage.entries, bytes: usage.bytes, hits: stats.hits.current,
                     misses: stats.misses.current, evictions: stats.evictions.current,
                     staleServed: stats.staleServed.current, prefetches: stats.prefetches.current,
                     coalesced: stats.coalesced.current, sharedHits: stats.sharedHits.current,
                     sharedMisses: stats.sharedMisses.current, sharedFailures: stats.sharedFailures.current)
    }
}
