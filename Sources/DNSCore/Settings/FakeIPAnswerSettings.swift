/// How fake-IP mode answers: the TTL of its addresses, the names it leaves alone, and whether a name is resolved
/// first (so that a name that does not exist keeps its NXDOMAIN).
public struct FakeIPAnswerSettings: Sendable {
    public var ttl: UInt32
    public var exclude: [DomainPattern]
    public var resolveFirst: Bool

    public init(ttl: UInt32 = 60, exclude: [DomainPattern] = [], resolveFirst: Bool = true) {
        self.ttl = ttl
        self.exclude = exclude
        self.resolveFirst = resolveFirst
    }
}
