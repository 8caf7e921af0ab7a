public import DNSWire

/// Block and allow rules over domain names, kept as a table from the hash of a rule's name (``DomainHash``) to what
/// the rule says about that name and the names below it: a million rules take about 20 MiB and a lookup costs one
/// probe per label of the query name. In front of the table sits a bit set with 16 bits per rule (one bit per
/// name), small enough to stay in the CPU's cache, so that most labels of most names are found absent without
/// touching the table (with a million rules, every table probe was a cache miss: 5 % of cache-hit qps). An allow
/// rule beats a block rule, as `@@` exceptions do in Adblock lists.
public struct DomainRules: Sendable {
    /// What rules say about one name.
    public struct Effect: OptionSet, Sendable, Hashable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }

        /// The name itself is blocked (hosts and plain entries).
        public static let blockName = Effect(rawValue: 1)
        /// Every name below it is blocked (`*.example.com`, and `||example.com^` with ``blockName``).
        public static let blockBelow = Effect(rawValue: 2)
        public static let allowName = Effect(rawValue: 4)
        public static let allowBelow = Effect(rawValue: 8)
    }

    /// The outcome of matching a name.
    public enum Verdict: Sendable, Hashable {
        case blocked, allowed, unlisted
    }

    private var table: [UInt64: Effect] = [:]
    /// One bit per name hash (its top bits), set for every name in `table`.
    private var filter: [UInt64] = [0]
    private var filterShift: UInt64 = 58

    public init() {}

    /// Names with a rule.
    public var count: Int { self.table.count }

    public var isEmpty: Bool { self.table.isEmpty }

    /// Makes room for `count` more names, so that a large list loads without rehashing.
    public mutating func reserveCapacity(_ count: Int) {
        self.table.reserveCapacity(self.table.count + count)
    }

    /// Adds `effect` to the rules of the name whose hash is `hash`.
    mutating func add(_ effect: Effect, toNameHashed hash: UInt64) {
        self.table[hash, default: []].formUnion(effect)
        if self.table.count * 16 > self.filter.count * 64 {
            self.rebuildFilter()
        } else {
            self.setFilterBit(hash)
        }
    }

    /// Sizes the bit set to at least 16 bits per name (a power of two) and sets every name's bit.
    private mutating func rebuildFilter() {
        var bits = 64
        while bits < self.table.count * 32 { bits <<= 1 }
        self.filter = [UInt64](repeating: 0, count: bits / 64)
        self.filterShift = UInt64(64 - bits.trailingZeroBitCount)
        for hash in self.table.keys { self.setFilterBit(hash) }
    }

    @inline(__always)
    private mutating func setFilterBit(_ hash: UInt64) {
        let bit = hash >> self.filterShift
        self.filter[Int(bit >> 6)] |= 1 << (bit & 63)
    }

    @inline(__always)
    private func mayContain(_ hash: UInt64) -> Bool {
        let bit = hash >> self.filterShift
        return self.filter[Int(bit >> 6)] & (1 << (bit & 63)) != 0
    }

    /// Adds `effect` for `name`.
    public mutating func add(_ effect: Effect, for name: DNSName) {
        self.add(effect, toNameHashed: DomainHash.of(labels: name.labels))
    }

    /// Every rule of `other` as well.
    public mutating func formUnion(_ other: DomainRules) {
        if self.table.isEmpty {
            self = other
            return
        }
        self.table.merge(other.table) { $0.union($1) }
        self.rebuildFilter()
    }

    /// The same names with every block rule turned into an allow rule: what an allowlist's entries mean.
    public func allowing() -> DomainRules {
        var rules = self
        for (hash, effect) in self.table {
            var allowed = effect.subtracting([.blockName, .blockBelow])
            if effect.contains(.blockName) { allowed.insert(.allowName) }
            if effect.contains(.blockBelow) { allowed.insert(.allowBelow) }
            rules.table[hash] = allowed
        }
        return rules
    }

    /// Whether `name` is blocked, allowed, or named by no rule.
    public func verdict(for name: DNSName) -> Verdict {
        guard !self.table.isEmpty else { return .unlisted }
        return DomainHash.withSuffixHashes(of: name) { hashes in
            var blocked = false
            for (index, hash) in hashes.enumerated() {
                guard self.mayContain(hash), let effect = self.table[hash] else { continue }
                let own = index == 0
                if effect.contains(own ? .allowName : .allowBelow) { return .allowed }
                if effect.contains(own ? .blockName : .blockBelow) { blocked = true }
            }
            return blocked ? .blocked : .unlisted
        }
    }
}
