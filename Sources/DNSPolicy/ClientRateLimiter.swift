public import DNSCore
import Synchronization

/// Token buckets per client prefix in a table of fixed size: memory is bounded however many distinct sources a
/// (spoofed) flood brings. A prefix hashes to a pair of slots; a newcomer takes the slot of the pair used least
/// recently, so a flood of one-off sources evicts one another and, at worst, hands a busy client a full bucket
/// again. The table is split into stripes, each behind its own lock, so that threads rarely meet.
public final class ClientRateLimiter: Sendable {
    private struct Slot {
        /// The prefix's key; 0 is an empty slot.
        var key: UInt64 = 0
        var tokens: Double = 0
        /// Nanoseconds of the monotonic clock at the last refill.
        var refilled: UInt64 = 0
    }

    private final class Stripe: Sendable {
        let slots: Mutex<[Slot]>

        init(size: Int) {
            self.slots = Mutex([Slot](repeating: Slot(), count: size))
        }
    }

    private static let stripeCount = 64
    public let settings: RateLimitSettings
    private let stripes: [Stripe]
    private let slotsPerStripe: Int
    private let tokensPerNanosecond: Double
    private let mask4: UInt32
    private let mask6: UInt128

    public init(settings: RateLimitSettings) {
        self.settings = settings
        // Pairs of slots, at least one pair per stripe.
        let slotsPerStripe = max(2, (settings.tableSize / Self.stripeCount) & ~1)
        self.slotsPerStripe = slotsPerStripe
        self.stripes = (0..<Self.stripeCount).map { _ in Stripe(size: slotsPerStripe) }
        self.tokensPerNanosecond = settings.queriesPerSecond / 1e9
        let length4 = min(32, max(0, settings.ipv4PrefixLength))
        let length6 = min(128, max(0, settings.ipv6PrefixLength))
        self.mask4 = length4 == 0 ? 0 : ~UInt32(0) << (32 - length4)
        self.mask6 = length6 == 0 ? 0 : ~UInt128(0) << (128 - length6)
    }

    /// Slots in the table.
    public var capacity: Int { self.slotsPerStripe * Self.stripeCount }

    /// Takes a token for `client` at `now` (monotonic nanoseconds); false when its prefix is over the rate.
    public func admit(_ client: IPAddress, now: UInt64) -> Bool {
        let key = self.key(of: client)
        let hash = key &* 0x9E37_79B9_7F4A_7C15
        let stripe = self.stripes[Int(hash >> 58)]
        let pair = Int((hash >> 20) % UInt64(self.slotsPerStripe / 2)) * 2
        return stripe.slots.withLock { slots in
            var index = pair
            if slots[pair].key != key {
                if slots[pair + 1].key == key {
                    index = pair + 1
                } else {
                    // A newcomer replaces the pair's less recently refilled slot, with a full bucket.
                    index = slots[pair].refilled <= slots[pair + 1].refilled ? pair : pair + 1
                    slots[index] = Slot(key: key, tokens: self.settings.burst, refilled: now)
                }
            }
            let elapsed = now &- slots[index].refilled
            let tokens = min(self.settings.burst, slots[index].tokens + Double(elapsed) * self.tokensPerNanosecond)
            slots[index].refilled = now
            guard tokens >= 1 else {
                slots[index].tokens = tokens
                return false
            }
            slots[index].tokens = tokens - 1
            return true
        }
    }

    /// A nonzero key for the prefix `client` belongs to; IPv4 and IPv6 keys never collide.
    private func key(of client: IPAddress) -> UInt64 {
        switch client {
        case .v4(let value):
            return 1 << 63 | UInt64(value & self.mask4) << 1 | 1
        case .v6(let value):
            let prefix = value & self.mask6
            let folded = UInt64(truncatingIfNeeded: prefix >> 64) ^ UInt64(truncatingIfNeeded: prefix).byteSwapped
            return (folded & ~(1 << 63)) | 1
        }
    }
}
