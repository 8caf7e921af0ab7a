import DNSWire

extension DNSName {
    /// The name with ASCII letters lowercased (RFC 4034 §6.2): the form signatures, digests and NSEC3 hashes cover.
    var canonical: DNSName {
        DNSName(wire: self.wire.map { ($0 >= 0x41 && $0 <= 0x5A) ? $0 | 0x20 : $0 }) ?? self
    }

    /// How many labels the name has, not counting the root label.
    var labelCount: Int {
        var count = 0
        var offset = 0
        let wire = self.wire
        while offset < wire.count, wire[offset] != 0 {
            count += 1
            offset += 1 + Int(wire[offset])
        }
        return count
    }

    /// Where the name made of the last `count` labels starts in ``wire``.
    private func offset(ofLast count: Int) -> Int {
        var skip = self.labelCount - count
        var offset = 0
        while skip > 0 {
            offset += 1 + Int(self.wire[offset])
            skip -= 1
        }
        return offset
    }

    /// Whether this name is `other` or below it.
    func isSubdomain(of other: DNSName) -> Bool {
        let theirs = other.labelCount
        guard self.labelCount >= theirs else { return false }
        let start = self.offset(ofLast: theirs)
        let mine = self.wire
        let wire = other.wire
        guard mine.count - start == wire.count else { return false }
        for index in wire.indices where Self.lower(mine[start + index]) != Self.lower(wire[index]) { return false }
        return true
    }

    /// The name made of this name's last `count` labels (the root for 0).
    func suffix(labels count: Int) -> DNSName {
        let start = self.offset(ofLast: max(0, min(count, self.labelCount)))
        return DNSName(wire: Array(self.wire[start...])) ?? .root
    }

    /// `label` put in front of this name, or nil when the result would be too long.
    func prepending(_ label: some Collection<UInt8>) -> DNSName? {
        guard !label.isEmpty, label.count <= 63 else { return nil }
        return DNSName(wire: [UInt8(label.count)] + label + self.wire)
    }

    /// `*.` followed by this name: the wildcard that could stand for names below it.
    var wildcard: DNSName? { self.prepending([UInt8(ascii: "*")]) }

    /// Whether the first label is `*`.
    var isWildcard: Bool { self.wire.count >= 2 && self.wire[0] == 1 && self.wire[1] == UInt8(ascii: "*") }

    /// The longest name that both names are at or below.
    func commonAncestor(with other: DNSName) -> DNSName {
        let mine = self.labels
        let theirs = other.labels
        var shared = 0
        while shared < min(mine.count, theirs.count),
              Self.sameLabel(mine[mine.count - 1 - shared], theirs[theirs.count - 1 - shared]) {
            shared += 1
        }
        return self.suffix(labels: shared)
    }

    /// RFC 4034 §6.1 ordering: labels compared from the root down, each as lowercased octets.
    func canonicallyPrecedes(_ other: DNSName) -> Bool {
        Self.canonicalCompare(self, other) < 0
    }

    /// -1, 0 or 1 as `lhs` sorts before, with or after `rhs` in RFC 4034 §6.1 order.
    static func canonicalCompare(_ lhs: DNSName, _ rhs: DNSName) -> Int {
        let left = lhs.labels
        let right = rhs.labels
        for index in 0..<min(left.count, right.count) {
            let a = left[left.count - 1 - index]
            let b = right[right.count - 1 - index]
            for (x, y) in zip(a, b) {
                let lx = Self.lower(x)
                let ly = Self.lower(y)
                if lx != ly { return lx < ly ? -1 : 1 }
            }
            if a.count != b.count { return a.count < b.count ? -1 : 1 }
        }
        if left.count != right.count { return left.count < right.count ? -1 : 1 }
        return 0
    }

    private static func sameLabel(_ a: ArraySlice<UInt8>, _ b: ArraySlice<UInt8>) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { Self.lower($0) == Self.lower($1) }
    }

    @inline(__always)
    private static func lower(_ byte: UInt8) -> UInt8 { (byte >= 0x41 && byte <= 0x5A) ? byte | 0x20 : byte }
}
