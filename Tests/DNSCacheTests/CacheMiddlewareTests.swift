import DNSCache
import DNSCore
import DNSTestSupport
import DNSWire
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import Testing

extension HeldHandler {
    /// Answers the oldest held request with an A record of TTL `ttl`, as an upstream would.
    func answerOldest(ttl: UInt32 = 300) {
        self.complete { request in
            var (message, _) = CacheFixtures.answer(to: request, answers: [
                .a(request.question.name, (192, 0, 2, 7), ttl: ttl),
            ])
            message.setDNSMessageID(request.id)
            return DNSResponse(message: message, origin: .upstream)
        }
    }

    /// Fails the oldest held request the way the forwarding handler does: a local SERVFAIL.
    func failOldest() {
        self.complete { .error(.servFail, for: $0, extendedError: .networkError) }
    }
}

@Suite struct CacheMiddlewareTests {
    let loop = EmbeddedEventLoop()
    let clock = ManualClock()
    let upstream = HeldHandler()

    private func middleware(_ policy: CachePolicy = CachePolicy()) -> CacheMiddleware {
        CacheMiddleware(cache: DNSResponseCache(policy: policy, shardCount: 2, clock: self.clock.function),
                        group: self.loop)
    }

    private func ask(_ middleware: CacheMiddleware, _ request: DNSRequest) -> EventLoopFuture<DNSResponse> {
        middleware.handle(request, eventLoop: self.loop, next: self.upstream)
    }

    @Test func repeatedQuestionIsAnsweredFromTheCache() throws {
        let middleware = self.middleware()
        let first = self.ask(middleware, CacheFixtures.request("a.example", id: 1))
        #expect(self.upstream.held.count == 1)
        self.upstream.answerOldest()
        #expect(try first.wait().origin == .upstream)
        self.clock.advance(seconds: 100)
        let second = try self.ask(middleware, CacheFixtures.request("A.EXAMPLE", id: 2)).wait()
        #expect(self.upstream.held.isEmpty)
        #expect(second.origin == .cache)
        let message = try DNSMessage(second.message)
        #expect(message.id == 2)
        #expect(message.answers.first?.ttl == 200)
        #expect(middleware.cache.snapshot.hits == 1)
        #expect(middleware.cache.snapshot.misses == 1)
    }

    @Test func identicalQueriesInFlightShareOneUpstreamQuery() throws {
        let middleware = self.middleware()
        let futures = (1...5).map { self.ask(middleware, CacheFixtures.request("same.example", id: UInt16($0))) }
        #expect(self.upstream.held.count == 1)
        self.upstream.answerOldest()
        let ids = try futures.map { try DNSMessage($0.wait().message).id }
        #expect(ids == [1, 2, 3, 4, 5])
        #expect(try futures.allSatisfy { try DNSMessage($0.wait().message).answers.count == 1 })
        #expect(middleware.cache.snapshot.coalesced == 4)
    }

    @Test func waitersShareAFailureToo() throws {
        let middleware = self.middleware()
        let futures = (1...3).map { self.ask(middleware, CacheFixtures.request("down.example", id: UInt16($0))) }
        self.upstream.failOldest()
        for (index, future) in futures.enumerated() {
            let response = try future.wait()
            #expect(DNSHeader(response.message)?.rcodeLow == 2)
            #expect(DNSHeader(response.message)?.id == UInt16(index + 1))
        }
        // A SERVFAIL dnsgate made itself is never cached.
        _ = self.ask(middleware, CacheFixtures.request("down.example", id: 9))
        #expect(self.upstream.held.count == 1)
    }

    @Test func staleAnswerIsServedWhenTheUpstreamFails() throws {
        let middleware = self.middleware(CachePolicy(maxStale: 60, staleTTL: 30))
        _ = self.ask(middleware, CacheFixtures.request("s.example", id: 1))
        self.upstream.answerOldest(ttl: 10)
        self.clock.advance(seconds: 15)
        let future = self.ask(middleware, CacheFixtures.request("s.example", id: 2))
        #expect(self.upstream.held.count == 1, "an expired answer is asked again first")
        self.upstream.failOldest()
        let message = try DNSMessage(try future.wait().message)
        #expect(message.id == 2)
        #expect(message.flags & 0x000F == 0)
        #expect(message.answers.first?.ttl == 30)
        #expect(middleware.cache.snapshot.staleServed == 1)

        // Past the stale limit the failure goes through.
        self.clock.advance(seconds: 60)
        let late = self.ask(middleware, CacheFixtures.request("s.example", id: 3))
        self.upstream.failOldest()
        #expect(DNSHeader(try late.wait().message)?.rcodeLow == 2)
    }

    @Test func staleAnswerIsServedWhenTheUpstreamIsSlowAndTheRefreshLandsLater() throws {
        let middleware = self.middleware(CachePolicy(maxStale: 60, staleTTL: 30,
                                                     staleAnswerTimeout: .milliseconds(1800)))
        _ = self.ask(middleware, CacheFixtures.request("slow.example", id: 1))
        self.upstream.answerOldest(ttl: 10)
        self.clock.advance(seconds: 15)
        let future = self.ask(middleware, CacheFixtures.request("slow.example", id: 2, udpPayloadSize: 1232))
        let answered = NIOLockedValueBox(false)
        future.whenComplete { _ in answered.withLockedValue { $0 = true } }
        self.loop.advanceTime(by: .milliseconds(1799))
        #expect(!answered.withLockedValue { $0 }, "the upstreams get the client response timer first")
        self.loop.advanceTime(by: .milliseconds(1))
        #expect(answered.withLockedValue { $0 })
        let message = try DNSMessage(try future.wait().message)
        #expect(message.id == 2)
        #expect(message.answers.first?.ttl == 30)
        // Extended DNS Error 3 (Stale Answer) in the OPT record: option 15, length 2, info code 3.
        #expect(message.additionals.first?.rdata == [0, 15, 0, 2, 0, 3])

        // While the refresh is still out, the same question gets the stale answer at once, with no second fetch.
        let again = self.ask(middleware, CacheFixtures.request("slow.example", id: 3))
        #expect(try DNSMessage(try again.wait().message).answers.first?.ttl == 30)
        #expect(self.upstream.held.count == 1)
        #expect(middleware.cache.snapshot.staleServed == 2)

        // The refresh lands: fresh data from then on.
        self.upstream.answerOldest(ttl: 300)
        let fresh = try self.ask(middleware, CacheFixtures.request("slow.example", id: 4)).wait()
        #expect(fresh.origin == .cache)
        #expect(try DNSMessage(fresh.message).answers.first?.ttl == 300)
    }

    @Test func clientSubnetQueriesBypassTheCache() throws {
        let middleware = self.middleware()
        let ecs: [UInt8] = [0, 8, 0, 7, 0, 1, 24, 0, 192, 0, 2]
        for id in UInt16(1)...2 {
            _ = self.ask(middleware, CacheFixtures.request("ecs.example", id: id, udpPayloadSize: 1232, options: ecs))
            self.upstream.answerOldest()
        }
        #expect(middleware.cache.snapshot.entries == 0)
        #expect(middleware.cache.snapshot.hits == 0)
    }

    @Test func popularEntryIsRefreshedBeforeItExpires() throws {
        let middleware = self.middleware()
        _ = self.ask(middleware, CacheFixtures.request("hot.example", id: 1))
        self.upstream.answerOldest(ttl: 100)
        for id in UInt16(2)...4 { _ = self.ask(middleware, CacheFixtures.request("hot.example", id: id)) }
        self.clock.advance(seconds: 95)
        _ = try self.ask(middleware, CacheFixtures.request("hot.example", id: 5)).wait()
        #expect(self.upstream.held.count == 1, "one background refresh")
        self.upstream.answerOldest(ttl: 100)
        self.clock.advance(seconds: 50)
        let after = try DNSMessage(try self.ask(middleware, CacheFixtures.request("hot.example", id: 6)).wait().message)
        #expect(after.answers.first?.ttl == 50, "served from the refreshed entry")
        #expect(middleware.cache.snapshot.prefetches == 1)
    }

    @Test func freshHitsAreImmediateAndEverythingElseWaits() throws {
        let middleware = self.middleware()
        #expect(self.isWait(middleware.immediateOutcome(for: CacheFixtures.request("i.example", id: 1))))
        _ = self.ask(middleware, CacheFixtures.request("i.example", id: 1))
        self.upstream.answerOldest(ttl: 100)
        guard case .answer(let response) = middleware.immediateOutcome(for: CacheFixtures.request("I.example", id: 9))
        else {
            Issue.record("a fresh hit must be answered at once")
            return
        }
        #expect(try DNSMessage(response.message).id == 9)
        #expect(response.origin == .cache)
        // An entry due for a refresh goes the asynchronous way, which starts the prefetch.
        _ = middleware.immediateOutcome(for: CacheFixtures.request("i.example", id: 2))
        self.clock.advance(seconds: 95)
        #expect(self.isWait(middleware.immediateOutcome(for: CacheFixtures.request("i.example", id: 3))))
        self.clock.advance(seconds: 10)
        #expect(self.isWait(middleware.immediateOutcome(for: CacheFixtures.request("i.example", id: 4))))
    }

    private func isWait(_ outcome: DNSImmediateOutcome) -> Bool {
        if case .wait = outcome { return true }
        return false
    }
}
