import DNSCache
import DNSCore
import DNSTestSupport
import DNSWire
import NIOCore
import Testing

/// Saving the cache on shutdown and restoring it on start: fresh answers come back aged by their time in the cache
/// plus the downtime, everything else stays behind.
@Suite struct WarmRestartTests {
    let clock = ManualClock()
    /// Wall-clock milliseconds at saving.
    let savedAt: Int64 = 1_800_000_000_000

    private func cache() -> DNSResponseCache {
        DNSResponseCache(policy: CachePolicy(), shardCount: 4, clock: self.clock.function)
    }

    private func store(_ cache: DNSResponseCache, _ request: DNSRequest, rcode: UInt8 = 0, answers: [DNSRecord] = [],
                       authorities: [DNSRecord] = []) {
        let (message, view) = CacheFixtures.answer(to: request, rcode: rcode, answers: answers, authorities: authorities)
        cache.store(message, view: view, for: CacheKey(request))
    }

    private func ttls(_ cache: DNSResponseCache, _ request: DNSRequest) throws -> [UInt32]? {
        guard case .fresh(let answer, let age, _) = cache.lookup(CacheKey(request)) else { return nil }
        let message = try DNSMessage(answer.response(for: request, age: age))
        return (message.answers + message.authorities).map(\.ttl)
    }

    /// A cache holding a positive answer (300 s), one for DO queries (600 s), a negative one (SOA 120 s), a SERVFAIL
    /// and one that expires before saving; 100 s pass before it is saved.
    private func savedCache() -> (ByteBuffer, [String: DNSRequest]) {
        let requests = [
            "a": CacheFixtures.request("www.example.com"),
            "do": CacheFixtures.request("www.example.com", udpPayloadSize: 1232, dnssecOK: true),
            "nx": CacheFixtures.request("nothing.example.com"),
            "fail": CacheFixtures.request("broken.example.com"),
            "short": CacheFixtures.request("short.example.com"),
        ]
        let cache = self.cache()
        self.store(cache, requests["a"]!, answers: [CacheFixtures.a("www.example.com", ttl: 300)])
        self.store(cache, requests["do"]!, answers: [CacheFixtures.a("www.example.com", ttl: 600, last: 2)])
        self.store(cache, requests["nx"]!, rcode: 3, authorities: [CacheFixtures.soa("example.com", ttl: 120, minimum: 3600)])
        self.store(cache, requests["fail"]!, rcode: 2)
        self.store(cache, requests["short"]!, answers: [CacheFixtures.a("short.example.com", ttl: 60)])
        self.clock.advance(seconds: 100)
        return (cache.saved(wallClockMilliseconds: self.savedAt), requests)
    }

    @Test func freshAnswersComeBackAgedByTheirAgeAndTheDowntime() throws {
        let (saved, requests) = self.savedCache()
        let restored = self.cache()
        let count = try restored.restore(saved, wallClockMilliseconds: self.savedAt + 15_000)
        #expect(count == 3)
        let positive = try self.ttls(restored, requests["a"]!)
        #expect(positive == [300 - 115])
        #expect(try self.ttls(restored, requests["do"]!) == [600 - 115], "DO answers stay apart from the others")
        #expect(try self.ttls(restored, requests["nx"]!) == [5], "the negative answer has 5 of its 120 s left")
        #expect(try self.ttls(restored, requests["fail"]!) == nil, "SERVFAIL is not saved")
        #expect(try self.ttls(restored, requests["short"]!) == nil, "expired before saving")
    }

    @Test func answersThatExpiredDuringTheDowntimeAreDropped() throws {
        let (saved, requests) = self.savedCache()
        let restored = self.cache()
        let count = try restored.restore(saved, wallClockMilliseconds: self.savedAt + 250_000)
        #expect(count == 1)
        let positive = try self.ttls(restored, requests["a"]!)
        #expect(positive == nil)
        #expect(try self.ttls(restored, requests["do"]!) == [600 - 350])
    }

    @Test func aForeignFileIsRefusedAndACutOneKeepsWhatCameFirst() throws {
        #expect(throws: SavedCacheError.self) { try self.cache().restore(ByteBuffer(string: "not a cache at all")) }
        #expect(throws: SavedCacheError.self) { try self.cache().restore(ByteBuffer()) }
        let (saved, _) = self.savedCache()
        let full = try self.cache().restore(saved, wallClockMilliseconds: self.savedAt)
        for cut in [12, 20, saved.readableBytes / 2, saved.readableBytes - 1] {
            let prefix = try #require(saved.getSlice(at: saved.readerIndex, length: cut))
            let restored = try self.cache().restore(prefix, wallClockMilliseconds: self.savedAt)
            #expect(restored < full, "cut at \(cut)")
        }
        // A garbled answer ends the restore without trapping.
        var garbled = saved
        garbled.setBytes([UInt8](repeating: 0xFF, count: 40), at: saved.readerIndex + 12 + 7)
        #expect((try self.cache().restore(garbled, wallClockMilliseconds: self.savedAt)) < full)
    }
}
