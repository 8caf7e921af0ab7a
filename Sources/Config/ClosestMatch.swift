/// Finds the known name a misspelt one was probably meant to be.
enum ClosestMatch {
    /// The candidate within a few edits of `name` (a swapped pair of letters counts as one), else the candidates
    /// that end in `name` as a whole component (`max_size` → `cache.max_size`), else nil.
    static func suggestion(for name: String, among candidates: Set<String>) -> String? {
        let allowed = max(1, min(3, name.count / 4))
        let scored = candidates.map { ($0, Self.distance(name, $0)) }.filter { $0.1 <= allowed }
        if let best = scored.min(by: { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }) { return best.0 }
        let endings = candidates.filter { $0.hasSuffix("." + name) }.sorted()
        return endings.isEmpty ? nil : endings.joined(separator: "' or '")
    }

    /// The optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours.
    static func distance(_ first: String, _ second: String) -> Int {
        let a = Array(first), b = Array(second)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var before = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], before[j - 2] + 1)
                }
            }
            (before, previous, current) = (previous, current, before)
        }
        return previous[b.count]
    }
}
