/// wyrand: a small, fast generator for upstream query IDs, seeded from the system generator. Drawing every ID from
/// the system generator would cost a `getrandom` call per query.
struct FastRandom: RandomNumberGenerator {
    private var state: UInt64

    init() {
        var system = SystemRandomNumberGenerator()
        self.state = system.next()
    }

    mutating func next() -> UInt64 {
        self.state &+= 0xA076_1D64_78BD_642F
        let product = self.state.multipliedFullWidth(by: self.state ^ 0xE703_7ED1_A0B4_28DB)
        return product.high ^ product.low
    }
}
