import Admin
import Atomics
import DNSTestSupport
import NIOCore
import Testing

/// `/readyz` needs no token: however often it is asked, the upstreams get one probe round per interval.
@Suite struct ThrottledCheckTests {
    @Test func oneRoundPerIntervalWhateverTheRequestRate() async {
        let clock = TestClock()
        let rounds = ManagedAtomic(0)
        let check = ThrottledCheck(interval: .seconds(5), clock: { clock.now() }) {
            "round \(rounds.wrappingIncrementThenLoad(ordering: .relaxed))"
        }
        await withTaskGroup(of: String?.self) { group in
            for _ in 0..<50 { group.addTask { await check.result() } }
            for await result in group { #expect(result == "round 1") }
        }
        clock.advance(by: .seconds(4))
        #expect(await check.result() == "round 1", "still within the interval")
        clock.advance(by: .seconds(1))
        #expect(await check.result() == "round 2", "the interval is over: a new round")
        #expect(rounds.load(ordering: .relaxed) == 2)
    }
}
