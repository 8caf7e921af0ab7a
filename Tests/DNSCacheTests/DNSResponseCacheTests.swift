import DNSCache
import DNSCore
import DNSTestSupport
import DNSWire
import NIOCore
import Testing

@Suite struct DNSResponseCacheTests {
    let clock = ManualClock()

    private func cache(_ policy: CachePolicy = CachePolicy(), shards: Int = 4) -> DNSResponseCache {
        DNSResponseCache(policy: policy, shardCount: shards, clock: self.clock.function)
    }

    /// Looks `request` up and returns the served message, or nil on a miss or stale entry.
    private func served(_ cache: DNSResponseCache, _ request: DNSRequest) throws -> DNSMessage? {
        guard case .fresh(let answer, let age, _) = cache.lookup(CacheKey(request)) else { return nil }
        return try DNSMessage(answer.response(for: request, age: age))
    }

    @Test func ttlsCountDownInWholeSecondsAndExpire() throws {
        let cache = self.cache()
        let request = CacheFixtures.request("www.example.com")
        let (message, view) = CacheFixtures.answer(to: request, answers: [CacheFixtures.a("www.example.com", ttl: 60)])
        #expect(cache.store(message, view: view, for: CacheKey(request)) != nil)
        #expect(try self.served(cache, request)?.answers.first?.ttl == 60)
        self.clock.advance(seconds: 0.999)
        #expect(try self.served(cache, request)?.answers.first?.ttl == 60)
        self.clock.advance(seconds: 0.001)
        #expect(try self.served(cache, request)?.answers.first?.ttl == 59)
        self.clock.advance(seconds: 58.5)
        #expect(try self.served(cache, request)?.answers.first?.ttl == 1)
        self.clock.advance(seconds: 0.5)
        guard case .stale = cache.lookup(CacheKey(request)) else {
            Issue.record("an expired answer must be stale, not fresh")
            return
        }
    }

    @Test func servedAnswerCarriesTheClientsIDSpellingAndRD() throws {
        let cache = self.cache()
        let first = CacheFixtures.request("www.example.com", id: 1)
        let (message, view) = CacheFixtures.answer(to: first, answers: [CacheFixtures.a("www.example.com", ttl: 300)])
        cache.store(message, view: view, for: CacheKey(first))
        let second = CacheFixtures.request("WWW.Example.COM", id: 4242)
        #expect(CacheKey(second) == CacheKey(first))
        let served = try #require(try self.served(cache, second))
        #expect(served.id == 4242)
        #expect(served.questions.first?.name.description == "WWW.Example.COM.")
        #expect(served.flags & DNSHeader.Flag.rd != 0)
        #expect(served.answers.count == 1)
    }

    @Test func dnssecOKAndCheckingDisabledAreSeparateEntries() throws {
        let cache = self.cache()
        let plain = CacheFixtures.request("x.example", udpPayloadSize: 1232)
        let (message, view) = CacheFixtures.answer(to: plain, answers: [CacheFixtures.a("x.example", ttl: 300)])
        cache.store(message, view: view, for: CacheKey(plain))
        #expect(try self.served(cache, plain) != nil)
        #expect(try self.served(cache, CacheFixtures.request("x.example", udpPayloadSize: 1232, dnssecOK: true)) == nil)
        #expect(try self.served(cache, CacheFixtures.request("x.example", checkingDisabled: true)) == nil)
    }

    @Test func ttlFloorAndCeilingApply() throws {
        let cache = self.cache(CachePolicy(minTTL: 30, maxTTL: 100))
        let low = CacheFixtures.request("low.example")
        let (lowMessage, lowView) = CacheFixtures.answer(to: low, answers: [CacheFixtures.a("low.example", ttl: 5)])
        #expect(cache.store(lowMessage, view: lowView, for: CacheKey(low))?.lifetime == 30)
        #expect(try self.served(cache, low)?.answers.first?.ttl == 30)
        let high = CacheFixtures.request("high.example")
        let (highMessage, highView) = CacheFixtures.answer(to: high, answers: [CacheFixtures.a("high.example", ttl: 3600)])
        #expect(cache.store(highMessage, view: highView, for: CacheKey(high))?.lifetime == 100)
        #expect(try self.served(cache, high)?.answers.first?.ttl == 100)
    }

    @Test func negativeAnswersLiveAsLongAsTheSOAAllows() throws {
        let cache = self.cache(CachePolicy(maxNegativeTTL: 3600))
        let request = CacheFixtures.request("nx.example.org")
        let soa = CacheFixtures.soa("example.org", ttl: 300, minimum: 60)
        let (message, view) = CacheFixtures.answer(to: request, rcode: 3, authorities: [soa])
        #expect(cache.store(message, view: view, for: CacheKey(request))?.lifetime == 60)
        self.clock.advance(seconds: 10)
        let served = try #require(try self.served(cache, request))
        #expect(served.flags & 0x000F == 3)
        #expect(served.authorities.first?.ttl == 50)

        let capped = self.cache(CachePolicy(maxNegativeTTL: 20))
        #expect(capped.store(message, view: view, for: CacheKey(request))?.lifetime == 20)
    }

    @Test func noDataIsCachedButNegativeAnswersWithoutSOAAreNot() throws {
        let cache = self.cache()
        let request = CacheFixtures.request("v4only.example", .aaaa)
        let soa = CacheFixtures.soa("example", ttl: 120, minimum: 300)
        let (nodata, nodataView) = CacheFixtures.answer(to: request, authorities: [soa])
        #expect(cache.store(nodata, view: nodataView, for: CacheKey(request))?.lifetime == 120)
        let (bare, bareView) = CacheFixtures.answer(to: request, rcode: 3)
        #expect(cache.store(bare, view: bareView, for: CacheKey(request)) == nil)
    }

    @Test func servFailIsKeptOnlyBrieflyAndOnlyWhenAllowed() throws {
        let request = CacheFixtures.request("broken.example")
        let (message, view) = CacheFixtures.answer(to: request, rcode: 2)
        #expect(self.cache(CachePolicy(servFailTTL: 2)).store(message, view: view, for: CacheKey(request))?.lifetime == 2)
        #expect(self.cache(CachePolicy(servFailTTL: 0)).store(message, view: view, for: CacheKey(request)) == nil)
    }

    @Test func truncatedZeroTTLAndRefusedAnswersAreNotCached() {
        let cache = self.cache()
        let request = CacheFixtures.request("t.example")
        let (truncated, truncatedView) = CacheFixtures.answer(to: request, truncated: true)
        #expect(cache.store(truncated, view: truncatedView, for: CacheKey(request)) == nil)
        let (zero, zeroView) = CacheFixtures.answer(to: request, answers: [CacheFixtures.a("t.example", ttl: 0)])
        #expect(cache.store(zero, view: zeroView, for: CacheKey(request)) == nil)
        let (refused, refusedView) = CacheFixtures.answer(to: request, rcode: 5)
        #expect(cache.store(refused, view: refusedView, for: CacheKey(request)) == nil)
    }

    @Test func optIsServedExactlyWhenTheClientSentOneAndOptionsAreStripped() throws {
        let cache = self.cache()
        let withEDNS = CacheFixtures.request("o.example", udpPayloadSize: 4096)
        // A server cookie meant for the first client (option 10).
        let cookie: [UInt8] = [0, 10, 0, 16] + Array(repeating: 7, count: 16)
        let (message, view) = CacheFixtures.answer(to: withEDNS, answers: [CacheFixtures.a("o.example", ttl: 300)],
                                                   optOptions: cookie)
        cache.store(message, view: view, for: CacheKey(withEDNS))
        let ednsServed = try #require(try self.served(cache, withEDNS))
        #expect(ednsServed.additionals.count == 1)
        #expect(ednsServed.additionals.first?.rdata.isEmpty == true)
        let plainServed = try #require(try self.served(cache, CacheFixtures.request("o.example")))
        #expect(plainServed.additionals.isEmpty)
        #expect(plainServed.answers.count == 1)

        let plain = CacheFixtures.request("p.example")
        let (plainMessage, plainView) = CacheFixtures.answer(to: plain, answers: [CacheFixtures.a("p.example", ttl: 300)])
        cache.store(plainMessage, view: plainView, for: CacheKey(plain))
        let added = try #require(try self.served(cache, CacheFixtures.request("p.example", udpPayloadSize: 1232)))
        #expect(added.additionals.map(\.type) == [.opt])
    }

    /// RFC 8914 code 3 tells EDNS clients that an answer is stale; clients without EDNS get the plain answer.
    @Test func staleAnswersCarryExtendedErrorThreeForEDNSClients() throws {
        let staleOption: [UInt8] = [0, 15, 0, 2, 0, 3]
        for storedWithOPT in [true, false] {
            let cache = self.cache(CachePolicy(maxStale: 60))
            let request = CacheFixtures.request("st.example", udpPayloadSize: storedWithOPT ? 1232 : nil)
            let (message, view) = CacheFixtures.answer(to: request, answers: [CacheFixtures.a("st.example", ttl: 10)],
                                                       optOptions: storedWithOPT ? [] : nil)
            cache.store(message, view: view, for: CacheKey(request))
            self.clock.advance(seconds: 20)
            guard case .stale(let answer) = cache.lookup(CacheKey(request)) else {
                Issue.record("expected a stale entry")
                return
            }
            let edns = try DNSMessage(answer.response(for: CacheFixtures.request("st.example", udpPayloadSize: 4096),
                                                      age: 0, staleTTL: 30))
            #expect(edns.additionals.map(\.rdata) == [staleOption], "stored with OPT: \(storedWithOPT)")
            #expect(edns.answers.first?.ttl == 30)
            let plain = try DNSMessage(answer.response(for: CacheFixtures.request("st.example"), age: 0, staleTTL: 30))
            #expect(plain.additionals.isEmpty)
            #expect(plain.answers.first?.ttl == 30)
        }
    }

    @Test func staleEntriesLastOnlyUntilTheStaleLimit() {
        let cache = self.cache(CachePolicy(maxStale: 30))
        let request = CacheFixtures.request("s.example")
        let (message, view) = CacheFixtures.answer(to: request, answers: [CacheFixtures.a("s.example", ttl: 10)])
        cache.store(message, view: view, for: CacheKey(request))
        self.clock.advance(seconds: 20)
        guard case .stale = cache.lookup(CacheKey(request)) else {
            Issue.record("expected a stale entry 10 s after expiry")
            return
        }
        self.clock.advance(seconds: 20)
        guard case .miss = cache.lookup(CacheKey(request)) else {
            Issue.record("expected a miss past the stale limit")
            return
        }
    }

    @Test func popularEntriesNearExpiryAskForOneRefresh() {
        let cache = self.cache()
        let request = CacheFixtures.request("hot.example")
        let key = CacheKey(request)
        let (message, view) = CacheFixtures.answer(to: request, answers: [CacheFixtures.a("hot.example", ttl: 100)])
        cache.store(message, view: view, for: key)
        _ = cache.lookup(key)
        _ = cache.lookup(key)
        self.clock.advance(seconds: 89)
        guard case .fresh(_, _, refresh: false) = cache.lookup(key) else {
            Issue.record("no refresh with 11 % of the lifetime left")
            return
        }
        self.clock.advance(seconds: 1)
        guard case .fresh(_, _, refresh: true) = cache.lookup(key) else {
            Issue.record("a refresh with 10 % left")
            return
        }
        #expect(cache.beginPrefetch(key))
        #expect(!cache.beginPrefetch(key))
    }

    @Test func staysWithinItsByteBudgetAndKeepsWhatIsUsed() throws {
        let budget = 64 << 10
        let cache = self.cache(CachePolicy(maxBytes: budget), shards: 1)
        let hot = CacheFixtures.request("hot.example")
        let (hotMessage, hotView) = CacheFixtures.answer(to: hot, answers: [CacheFixtures.a("hot.example", ttl: 3600)])
        cache.store(hotMessage, view: hotView, for: CacheKey(hot))
        for index in 0..<5000 {
            let request = CacheFixtures.request("n\(index).example")
            let (message, view) = CacheFixtures.answer(to: request, answers: (0..<4).map {
                CacheFixtures.a("n\(index).example", ttl: 3600, last: UInt8($0))
            })
            cache.store(message, view: view, for: CacheKey(request))
            // The hot name is asked for all the time; SIEVE keeps visited entries where they are.
            _ = cache.lookup(CacheKey(hot))
            #expect(cache.snapshot.bytes <= budget)
        }
        let snapshot = cache.snapshot
        #expect(snapshot.evictions > 4000)
        #expect(snapshot.entries > 100)
        #expect(try self.served(cache, hot) != nil)
    }

    /// SIEVE: a hit only marks an entry; the hand evicts the oldest unmarked entry and clears marks on its way, so a
    /// visited old entry outlives newer ones that were never asked for again.
    @Test func evictionFollowsSIEVE() throws {
        func store(_ cache: DNSResponseCache, _ label: String) {
            let request = CacheFixtures.request("\(label).example")
            let (message, view) = CacheFixtures.answer(to: request, answers: [CacheFixtures.a("\(label).example", ttl: 600)])
            cache.store(message, view: view, for: CacheKey(request))
        }
        func present(_ cache: DNSResponseCache, _ label: String) -> Bool {
            if case .fresh = cache.lookup(CacheKey(CacheFixtures.request("\(label).example"))) { return true }
            return false
        }
        let probe = self.cache(shards: 1)
        store(probe, "a")
        let cost = probe.snapshot.bytes
        let cache = self.cache(CachePolicy(maxBytes: 3 * cost), shards: 1)
        for label in ["a", "b", "c"] { store(cache, label) }
        #expect(present(cache, "a"))  // visited
        store(cache, "d")  // evicts b, the oldest unvisited; a's mark is cleared on the way
        #expect(cache.snapshot.entries == 3)
        store(cache, "e")  // the hand goes on from c: evicts c
        store(cache, "f")  // then d, never asked for, before a
        #expect(cache.snapshot.evictions == 3)
        let survivors = ["a", "b", "c", "d", "e", "f"].filter { present(cache, $0) }
        #expect(survivors == ["a", "e", "f"])
    }
}
