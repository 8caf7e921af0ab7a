import Atomics
public import DNSCore

/// Token buckets per client prefix in a table of fixed size: memory is bounded however many distinct sources a
/// (spoofed) flood brings. A prefix hashes to a pair of slots; a newcomer takes the slot of the pair used least
/// recently, so a flood of one-off sources evicts one another and, at worst, hands a busy client a full bucket
/// again.
///
/// Each slot is one 64-bit word changed by compare-and-swap, with no lock: a tag of the prefix (18 bits), the tokens
/// in 1/256ths (24 bits, so bursts up to 65,535) and the time of the last refill in 16 ms ticks (22 bits, which
/// wrap after 18 hours). A refused query writes nothing, so a flood over its rate costs reads only. (A lock per
/// stripe cost 6 % of cache-hit qps when two reader threads served one client: `scripts/bench-blocklist.sh`.)
public final class ClientRateLimiter: @unchecked Sendable {
    // @unchecked: the slots are only ever touched through atomic operations.
    private static let tickNanoseconds: UInt64 = 16_000_000
    private static let tickMask: UInt64 = (1 << 22) - 1
    private static let tokenShift: UInt64 = 22
    private static let tokenMask: UInt64 = (1 << 24) - 1
    private static let tagShift: UInt64 = 46
    /// Token units per token.
    private static let unit: Double = 256

    public let settings: RateLimitSettings
    private let slots: UnsafeMutablePointer<UInt64.AtomicRepresentation>
    /// Slots in the table (an even number).
    public let capacity: Int
    private let burstUnits: UInt64
    private let unitsPerTick: Double
    private let mask4: UInt32
    private let mask6: UInt128

    public init(settings: RateLimitSettings) {
        self.settings = settings
        self.capacity = max(2, settings.tableSize & ~1)
        self.slots = .allocate(capacity: self.capacity)
        self.slots.initialize(repeating: UInt64.AtomicRepresentation(0), count: self.capacity)
        self.burstUnits = UInt64(min(65_535, max(1, settings.burst)) * Self.unit)
        self.unitsPerTick = settings.queriesPerSecond * Self.unit * Double(Self.tickNanoseconds) / 1e9
        let length4 = min(32, max(0, settings.ipv4PrefixLength))
        let length6 = min(128, max(0, settings.ipv6PrefixLength))
        self.mask4 = length4 == 0 ? 0 : ~UInt32(0) << (32 - length4)
        self.mask6 = length6 == 0 ? 0 : ~UInt128(0) << (128 - length6)
    }

    deinit {
        self.slots.deinitialize(count: self.capacity)
        self.slots.deallocate()
    }

    /// Takes a token for `client` at `now` (monotonic nanoseconds); false when its prefix is over the rate.
    public func admit(_ client: IPAddress, now: UInt64) -> Bool {
        let hash = self.key(of: client) &* 0x9E37_79B9_7F4A_7C15
        let tag = (hash >> Self.tagShift) | 1
        let pair = Int((hash >> 8) % UInt64(self.capacity / 2)) * 2
        let tick = (now / Self.tickNanoseconds) & Self.tickMask
        let first = UnsafeAtomic<UInt64>(at: self.slots + pair)
        let second = UnsafeAtomic<UInt64>(at: self.slots + pair + 1)
        for slot in [first, second] {
            var word = slot.load(ordering: .relaxed)
            while word >> Self.tagShift == tag {
                let elapsed = (tick &- word) & Self.tickMask
                let stored = (word >> Self.tokenShift) & Self.tokenMask
                let tokens = min(self.burstUnits, stored + UInt64(Double(elapsed) * self.unitsPerTick))
                guard tokens >= UInt64(Self.unit) else { return false }
                let updated = tag << Self.tagShift | (tokens - UInt64(Self.unit)) << Self.tokenShift | tick
                let (exchanged, current) = slot.weakCompareExchange(expected: word, desired: updated,
                                                                     ordering: .relaxed)
                if exchanged { return true }
                word = current
            }
        }
        // A newcomer: it replaces the less recently refilled slot of the pair, with a full bucket less one token.
        let firstAge = (tick &- first.load(ordering: .relaxed)) & Self.tickMask
        let secondAge = (tick &- second.load(ordering: .relaxed)) & Self.tickMask
        let victim = firstAge >= secondAge ? first : second
        victim.store(tag << Self.tagShift | (self.burstUnits - UInt64(Self.unit)) << Self.tokenShift | tick,
                     ordering: .relaxed)
        return true
    }

    /// The prefix `client` belongs to, folded into 64 bits; IPv4 and IPv6 prefixes differ in the top bit.
    private func key(of client: IPAddress) -> UInt64 {
        switch client {
        case .v4(let value):
            return 1 << 63 | UInt64(value & self.mask4)
        case .v6(let value):
            let prefix = value & self.mask6
            return (UInt64(truncatingIfNeeded: prefix >> 64) ^ UInt64(truncatingIfNeeded: prefix).byteSwapped) & ~(1 << 63)
        }
    }
}
