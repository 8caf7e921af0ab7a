import Atomics

/// Counters of cache activity, for logs now and the metrics endpoint later.
public final class CacheStatistics: Sendable {
    let hits = ManagedAtomic<Int>(0)
    let misses = ManagedAtomic<Int>(0)
    let evictions = ManagedAtomic<Int>(0)
    let staleServed = ManagedAtomic<Int>(0)
    let prefetches = ManagedAtomic<Int>(0)
    let coalesced = ManagedAtomic<Int>(0)
    let sharedHits = ManagedAtomic<Int>(0)
    let sharedMisses = ManagedAtomic<Int>(0)
    /// Shared-tier reads that failed, timed out or returned something unusable.
    let sharedFailures = ManagedAtomic<Int>(0)

    init() {}

    /// A consistent-enough copy of the counters.
    public struct Snapshot: Sendable, Hashable {
        public var entries: Int
        public var bytes: Int
        public var hits: Int
        public var misses: Int
        public var evictions: Int
        public var staleServed: Int
        public var prefetches: Int
        public var coalesced: Int
        public var sharedHits: Int
        public var sharedMisses: Int
        public var sharedFailures: Int
    }
}

extension ManagedAtomic where Value == Int {
    func increment(by amount: Int = 1) {
        self.wrappingIncrement(by: amount, ordering: .relaxed)
    }

    var current: Int { self.load(ordering: .relaxed) }
}
