import DNSCore
import Testing

@Suite struct ConnectionWindowCreditTests {
    @Test func theWindowComesBackInOneGrantOnceHalfIsUsed() {
        var credit = ConnectionWindowCredit()
        let half = ConnectionWindowCredit.size / 2
        #expect(credit.consume(half - 100) == nil)
        #expect(credit.consume(99) == nil)
        #expect(credit.consume(1) == half)
        // Counting starts again after a grant.
        #expect(credit.consume(half - 1) == nil)
        #expect(credit.consume(300) == half + 299)
    }
}
