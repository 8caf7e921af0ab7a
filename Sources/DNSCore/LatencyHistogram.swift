public import NIOCore

/// Durations counted into fixed buckets with their sum, for a Prometheus histogram: one relaxed atomic increment per
/// sample and no lock, so it can sit on the hot path; readers sum the buckets.
public final class LatencyHistogram: Sendable {
    /// Bucket upper bounds in seconds, from 50 µs (a cache hit) to 5 s (the longest a client waits by default).
    public static let bounds: [Double] = [
        0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
    ]
    private static let boundNanoseconds: [Int64] = LatencyHistogram.bounds.map { Int64(($0 * 1e9).rounded()) }

    /// One count per bound, a last one for everything above (+Inf), not cumulative, then the sum in nanoseconds.
    private let counters = AtomicCounters(count: LatencyHistogram.slots)

    /// Counters a histogram takes: one per bound, +Inf, and the sum.
    static let slots = LatencyHistogram.bounds.count + 2

    public init() {}

    /// Counts one duration.
    public func record(_ duration: TimeAmount) {
        Self.record(duration, in: self.counters, at: 0)
    }

    /// Counts one duration in the histogram kept at `offset` of `counters` (``slots`` counters).
    static func record(_ duration: TimeAmount, in counters: AtomicCounters, at offset: Int) {
        let nanoseconds = max(0, duration.nanoseconds)
        var index = 0
        while index < Self.boundNanoseconds.count, nanoseconds > Self.boundNanoseconds[index] { index += 1 }
        counters.add(at: offset + index)
        counters.add(Int(nanoseconds), at: offset + Self.bounds.count + 1)
    }

    /// The histogram kept at `offset` of `counters`.
    static func snapshot(of counters: AtomicCounters, at offset: Int) -> Snapshot {
        var running = 0
        var cumulative: [Int] = []
        cumulative.reserveCapacity(Self.bounds.count)
        for index in 0..<Self.bounds.count {
            running += counters.value(at: offset + index)
            cumulative.append(running)
        }
        let count = running + counters.value(at: offset + Self.bounds.count)
        return Snapshot(cumulative: cumulative, count: count,
                        sum: Double(counters.value(at: offset + Self.bounds.count + 1)) / 1e9)
    }

    /// The counts now.
    public struct Snapshot: Sendable, Hashable {
        /// Samples at or below each bound of ``LatencyHistogram/bounds`` (cumulative, as Prometheus has them).
        public var cumulative: [Int]
        /// Every sample.
        public var count: Int
        /// The sum of every sample, in seconds.
        public var sum: Double

        /// Several histograms' counts added together.
        public static func merged(_ snapshots: [Snapshot]) -> Snapshot {
            var merged = Snapshot(cumulative: LatencyHistogram.bounds.map { _ in 0 }, count: 0, sum: 0)
            for snapshot in snapshots {
                merged.cumulative = zip(merged.cumulative, snapshot.cumulative).map { $0 + $1 }
                merged.count += snapshot.count
                merged.sum += snapshot.sum
            }
            return merged
        }

        /// An estimate of the `q` quantile (0...1) in seconds, interpolated inside its bucket; nil without samples.
        public func quantile(_ q: Double) -> Double? {
            guard self.count > 0 else { return nil }
            let rank = q * Double(self.count)
            var lower = 0.0
            var below = 0
            for (index, bound) in LatencyHistogram.bounds.enumerated() {
                let atOrBelow = self.cumulative[index]
                if Double(atOrBelow) >= rank {
                    let inBucket = atOrBelow - below
                    let fraction = inBucket == 0 ? 1 : (rank - Double(below)) / Double(inBucket)
                    return lower + (bound - lower) * fraction
                }
                lower = bound
                below = atOrBelow
            }
            return LatencyHistogram.bounds.last
        }
    }

    public var snapshot: Snapshot { Self.snapshot(of: self.counters, at: 0) }
}
