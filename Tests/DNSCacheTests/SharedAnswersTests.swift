import DNSCache
import DNSCore
import DNSTestSupport
import DNSWire
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import Testing

/// A shared tier in memory, for the cache's side of the contract; the Redis tier itself is tested against a real
/// redis-server in the integration tests.
final class MemoryTier: SharedCacheTier {
    enum Behaviour { case answer, never }

    let values = NIOLockedValueBox<[ByteBuffer: (value: ByteBuffer, lifetime: TimeAmount)]>([:])
    let behaviour: Behaviour

    init(_ behaviour: Behaviour = .answer) {
        self.behaviour = behaviour
    }

    func value(for key: ByteBuffer, eventLoop: any EventLoop) -> EventLoopFuture<ByteBuffer?> {
        switch self.behaviour {
        case .answer: eventLoop.makeSucceededFuture(self.values.withLockedValue { $0[key]?.value })
        case .never: eventLoop.makePromise(of: ByteBuffer?.self).futureResult
        }
    }

    func store(_ value: ByteBuffer, for key: ByteBuffer, lifetime: TimeAmount, eventLoop: any EventLoop) {
        self.values.withLockedValue { $0[key] = (value, lifetime) }
    }

    /// Replaces every stored value's bytes after the 9-byte header with `message`.
    func replaceMessages(with message: ByteBuffer) {
        self.values.withLockedValue { values in
            for (key, entry) in values {
                var value = entry.value.getSlice(at: entry.value.readerIndex, length: 9) ?? ByteBuffer()
                value.writeImmutableBuffer(message)
                values[key] = (value, entry.lifetime)
            }
        }
    }
}

/// A wall clock the test moves by hand, in milliseconds.
final class ManualWallClock: Sendable {
    private let milliseconds = NIOLockedValueBox<Int64>(1_800_000_000_000)
    func advance(seconds: Int64) { self.milliseconds.withLockedValue { $0 += seconds * 1000 } }
    var function: @Sendable () -> Int64 { { self.milliseconds.withLockedValue { $0 } } }
}

@Suite struct SharedAnswersTests {
    let loop = EmbeddedEventLoop()
    let wallClock = ManualWallClock()

    private func instance(_ tier: MemoryTier) -> (CacheMiddleware, HeldHandler) {
        let shared = SharedAnswers(tier: tier, budget: .milliseconds(20), wallClock: self.wallClock.function)
        return (CacheMiddleware(cache: DNSResponseCache(policy: CachePolicy(), shardCount: 2), group: self.loop,
                                shared: shared), HeldHandler())
    }

    @Test func anAnswerFetchedByOneInstanceIsServedByAnotherAgedByItsTimeInTheTier() throws {
        let tier = MemoryTier()
        let (first, firstUpstream) = self.instance(tier)
        let (second, secondUpstream) = self.instance(tier)
        _ = first.handle(CacheFixtures.request("shared.example", id: 1), eventLoop: self.loop, next: firstUpstream)
        firstUpstream.answerOldest(ttl: 300)
        let published = try #require(tier.values.withLockedValue { $0.values.first })
        #expect(published.lifetime == .seconds(300))

        self.wallClock.advance(seconds: 5)
        let future = second.handle(CacheFixtures.request("SHARED.example", id: 2), eventLoop: self.loop,
                                   next: secondUpstream)
        #expect(secondUpstream.held.isEmpty, "the tier answered; the upstream was not asked")
        let message = try DNSMessage(try future.wait().message)
        #expect(message.id == 2)
        #expect(message.questions.first?.name.description == "SHARED.example.")
        #expect(message.answers.first?.ttl == 295)
        #expect(second.cache.snapshot.sharedHits == 1)
        // Now it is local too: the next query needs neither the tier nor the upstream.
        guard case .answer = second.immediateOutcome(for: CacheFixtures.request("shared.example", id: 3)) else {
            Issue.record("a shared answer is stored locally")
            return
        }
    }

    @Test func aTierThatDoesNotAnswerDelaysAQueryOnlyByTheBudget() {
        let (middleware, upstream) = self.instance(MemoryTier(.never))
        _ = middleware.handle(CacheFixtures.request("slow.example"), eventLoop: self.loop, next: upstream)
        self.loop.advanceTime(by: .milliseconds(19))
        #expect(upstream.held.isEmpty)
        self.loop.advanceTime(by: .milliseconds(1))
        #expect(upstream.held.count == 1)
        #expect(middleware.cache.snapshot.sharedFailures == 1)
    }

    @Test func expiredBrokenOrForeignValuesAreMisses() throws {
        let tier = MemoryTier()
        let (first, firstUpstream) = self.instance(tier)
        _ = first.handle(CacheFixtures.request("x.example"), eventLoop: self.loop, next: firstUpstream)
        firstUpstream.answerOldest(ttl: 60)

        // Older than its TTL (the tier should have dropped it, but clocks and tiers are not perfect).
        self.wallClock.advance(seconds: 61)
        let (late, lateUpstream) = self.instance(tier)
        _ = late.handle(CacheFixtures.request("x.example"), eventLoop: self.loop, next: lateUpstream)
        #expect(lateUpstream.held.count == 1)

        // Bytes that are not a DNS message, and a real answer to another question.
        let foreign = CacheFixtures.answer(to: CacheFixtures.request("other.example"),
                                           answers: [CacheFixtures.a("other.example", ttl: 300)]).0
        for junk in [ByteBuffer(string: "not dns"), foreign] {
            self.wallClock.advance(seconds: -61)
            tier.replaceMessages(with: junk)
            let (fresh, freshUpstream) = self.instance(tier)
            _ = fresh.handle(CacheFixtures.request("x.example"), eventLoop: self.loop, next: freshUpstream)
            #expect(freshUpstream.held.count == 1)
            #expect(fresh.cache.snapshot.sharedFailures == 1)
            self.wallClock.advance(seconds: 61)
        }
    }

    @Test func servFailIsNotShared() {
        let tier = MemoryTier()
        let (middleware, upstream) = self.instance(tier)
        _ = middleware.handle(CacheFixtures.request("fail.example"), eventLoop: self.loop, next: upstream)
        upstream.complete { request in
            var (message, _) = CacheFixtures.answer(to: request, rcode: 2)
            message.setDNSMessageID(request.id)
            return DNSResponse(message: message, origin: .upstream)
        }
        #expect(tier.values.withLockedValue { $0.isEmpty })
        #expect(middleware.cache.snapshot.entries == 1, "kept locally for its short SERVFAIL lifetime")
    }
}
