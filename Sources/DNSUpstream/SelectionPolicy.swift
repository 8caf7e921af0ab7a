import DNSCore
/// The order in which one query tries a group's upstreams under a policy, before health moves the down ones last.
struct SelectionOrder {
    let policy: SelectionPolicy
    /// Member indices, each repeated as often as its weight and interleaved (smooth weighted round robin).
    let wheel: [Int]
    let count: Int

    init(policy: SelectionPolicy, weights: [Int]) {
        self.policy = policy
        self.count = weights.count
        self.wheel = policy == .weighted ? Self.smoothWheel(weights) : []
    }

    /// The member indices in the order to try them, for the query numbered `tick`. `roundTrips` gives each
    /// member's smoothed round trip (nil before its first answer), read only by `fastest`.
    func order(tick: Int, roundTrips: (Int) -> Int?) -> [Int] {
        let first: Int
        switch self.policy {
        case .sequential: first = 0
        case .roundRobin: first = tick % self.count
        case .random: first = Int(Self.mix(UInt64(truncatingIfNeeded: tick)) % UInt64(self.count))
        case .weighted: first = self.wheel[tick % self.wheel.count]
        case .fastest:
            // Unmeasured upstreams first, so that each gets a round trip; then the fastest.
            var ranked = Array(0..<self.count)
            ranked.sort { (roundTrips($0) ?? 0, $0) < (roundTrips($1) ?? 0, $1) }
            if self.count > 1, tick % SelectionPolicy.fastestExplorationInterval == 0 {
                let explored = 1 + (tick / SelectionPolicy.fastestExplorationInterval) % (self.count - 1)
                ranked.swapAt(0, explored)
            }
            return ranked
        }
        return (0..<self.count).map { (first + $0) % self.count }
    }

    /// splitmix64's finaliser: spreads consecutive ticks over the whole range.
    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// nginx's smooth weighted round robin, unrolled over one cycle of the total weight.
    private static func smoothWheel(_ weights: [Int]) -> [Int] {
        let total = weights.reduce(0, +)
        var current = Array(repeating: 0, count: weights.count)
        var wheel: [Int] = []
        wheel.reserveCapacity(total)
        for _ in 0..<total {
            for index in weights.indices { current[index] += weights[index] }
            let best = current.indices.max { (current[$0], -$0) < (current[$1], -$1) } ?? 0
            current[best] -= total
            wheel.append(best)
        }
        return wheel
    }
}
