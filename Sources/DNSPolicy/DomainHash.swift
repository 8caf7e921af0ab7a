public import DNSWire

/// 64-bit hashes of a name and of each of its ancestors, computed from the root down in one pass (FNV-1a over
/// length-prefixed, lowercased labels), so that matching a name against a million suffix rules costs one table
/// lookup per label and no string is made. Two different names collide with odds of about n²/2⁶⁴: one in 10⁷ for a
/// million rules against every name ever asked.
enum DomainHash {
    static let root: UInt64 = 0xCBF2_9CE4_8422_2325
    private static let prime: UInt64 = 0x0000_0100_0000_01B3

    /// The hash of `label` below the name whose hash is `parent`.
    @inline(__always)
    static func extend<Label: Collection<UInt8>>(_ parent: UInt64, with label: Label) -> UInt64 {
        var hash = (parent ^ UInt64(label.count)) &* Self.prime
        for byte in label {
            let lower = (byte >= 0x41 && byte <= 0x5A) ? byte | 0x20 : byte
            hash = (hash ^ UInt64(lower)) &* Self.prime
        }
        return hash
    }

    /// The hashes of `name` and its ancestors, the name itself first and the top-level domain last (the root
    /// excluded), handed to `body` without allocating for names of up to 32 labels.
    static func withSuffixHashes<Result>(of name: DNSName, _ body: (UnsafeBufferPointer<UInt64>) -> Result)
        -> Result
    {
        let wire = name.wire
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: 128) { starts in
            var count = 0
            var offset = 0
            while offset < wire.count, wire[offset] != 0, count < 128 {
                starts[count] = offset
                count += 1
                offset += 1 + Int(wire[offset])
            }
            return withUnsafeTemporaryAllocation(of: UInt64.self, capacity: max(1, count)) { hashes in
                var hash = Self.root
                for index in stride(from: count - 1, through: 0, by: -1) {
                    let start = starts[index]
                    let length = Int(wire[start])
                    hash = Self.extend(hash, with: wire[(start + 1)..<min(wire.count, start + 1 + length)])
                    hashes[index] = hash
                }
                return body(UnsafeBufferPointer(rebasing: hashes[0..<count]))
            }
        }
    }

    /// The hash of a name given as lowercase-insensitive labels, top-level domain last.
    static func of<Labels: BidirectionalCollection>(labels: Labels) -> UInt64 where Labels.Element: Collection<UInt8> {
        labels.reversed().reduce(Self.root) { Self.extend($0, with: $1) }
    }
}
