import Atomics
import DNSCore
import DNSTestSupport
import DNSWire
import NIOCore
import NIOEmbedded
import Testing

@testable import DNSPolicy

/// Answers every query with a CNAME chain `question → alias.cdn.example → edge.cdn.example` and an A record.
private struct AliasingHandler: DNSHandler {
    func handle(_ request: DNSRequest, eventLoop: any EventLoop) -> EventLoopFuture<DNSResponse> {
        eventLoop.makeSucceededFuture(self.answer(request))
    }

    func begin(_ request: DNSRequest) -> DNSQueryStart { .answered(self.answer(request)) }

    private func answer(_ request: DNSRequest) -> DNSResponse {
        let alias = DNSName("alias.cdn.example")!, edge = DNSName("edge.cdn.example")!
        let message = DNSMessage(id: request.id, flags: DNSHeader.Flag.qr | DNSHeader.Flag.rd,
                                 questions: [request.question], answers: [
                                     DNSRecord(name: request.question.name, type: .cname, ttl: 60, rdata: alias.wire),
                                     DNSRecord(name: alias, type: .cname, ttl: 60, rdata: edge.wire),
                                     .a(edge, (192, 0, 2, 1), ttl: 60),
                                 ])
        return DNSResponse(message: message.encoded(), origin: .cache)
    }
}

/// A stage that always waits (as a cache miss does) and counts the queries it handles.
private final class AsynchronousStage: DNSMiddleware {
    let handled = ManagedAtomic(0)

    func handle(_ request: DNSRequest, eventLoop: any EventLoop, next: any DNSHandler) -> EventLoopFuture<DNSResponse> {
        self.handled.wrappingIncrement(ordering: .relaxed)
        return next.handle(request, eventLoop: eventLoop)
    }
}

@Suite struct MiddlewareTests {
    private let loop = EmbeddedEventLoop()

    private func answer(_ pipeline: DNSPipeline, _ request: DNSRequest) throws -> DNSResponse {
        try pipeline.handle(request, eventLoop: self.loop).wait()
    }

    @Test func accessControlRefusesClientsOutsideThePrivateRangesByDefault() throws {
        let pipeline = DNSPipeline(middlewares: [AccessControlMiddleware(control: AccessControl())],
                                   terminal: EchoHandler())
        let inside = try answer(pipeline, PolicyFixtures.request("a.example", from: "10.1.2.3"))
        #expect(PolicyFixtures.decoded(inside).header.rcodeLow == 0)
        for outside in ["8.8.8.8", "2001:db8::1", "::ffff:1.2.3.4"] {
            let refused = try #require(pipeline.begin(PolicyFixtures.request("a.example", from: outside)).answer)
            #expect(PolicyFixtures.decoded(refused).header.rcodeLow == DNSRCode.refused.rawValue)
            #expect(PolicyFixtures.extendedError(refused) == 18)
        }
        #expect(pipeline.begin(PolicyFixtures.request("a.example", from: "::ffff:10.0.0.1")).answer == nil)
        let denying = AccessControl(deny: PrefixSet([IPPrefix("127.0.0.2/32")!]), refusal: .drop)
        let drop = DNSPipeline(middlewares: [AccessControlMiddleware(control: denying)], terminal: EchoHandler())
        #expect(drop.begin(PolicyFixtures.request("a.example", from: "127.0.0.2")).answer?.isSilent == true)
    }

    @Test func rateLimitTruncatesUDPAndRefusesTCPOverTheRatePerPrefix() throws {
        let limiter = ClientRateLimiter(settings: RateLimitSettings(queriesPerSecond: 10, burst: 5))
        let stage = RateLimitMiddleware(limiter: limiter)
        let pipeline = DNSPipeline(middlewares: [stage], terminal: EchoHandler())
        var answered = 0
        for _ in 0..<20 where pipeline.begin(PolicyFixtures.request("a.example", from: "10.0.0.1")).answer == nil {
            answered += 1
        }
        #expect(answered == 5)
        let limited = try #require(pipeline.begin(PolicyFixtures.request("a.example", from: "10.0.0.99")).answer)
        #expect(PolicyFixtures.decoded(limited).header.isTruncated)
        #expect(PolicyFixtures.decoded(limited).answers.isEmpty)
        let overTCP = try #require(pipeline.begin(
            PolicyFixtures.request("a.example", from: "10.0.0.2", transport: .tcp)).answer)
        #expect(PolicyFixtures.decoded(overTCP).header.rcodeLow == DNSRCode.refused.rawValue)
        // Another /24 has a bucket of its own.
        #expect(pipeline.begin(PolicyFixtures.request("a.example", from: "10.0.1.1")).answer == nil)
    }

    @Test func rateLimiterRefillsAndStaysWithinItsTable() {
        let limiter = ClientRateLimiter(settings: RateLimitSettings(queriesPerSecond: 2, burst: 2, tableSize: 1024))
        let client = IPAddress("10.9.9.9")!
        #expect(limiter.admit(client, now: 0) && limiter.admit(client, now: 0))
        #expect(!limiter.admit(client, now: 1))
        // Two per second: one token back after half a second, not before.
        #expect(!limiter.admit(client, now: 480_000_000))
        #expect(limiter.admit(client, now: 512_000_000))
        #expect(!limiter.admit(client, now: 512_000_000))
        #expect(limiter.capacity == 1024)
        for index in 0..<200_000 { _ = limiter.admit(.v4(UInt32(index) << 8), now: 1_000_000_000) }
        #expect(limiter.capacity == 1024)
    }

    @Test func anyQueriesGetTheMinimalAnswerOfRFC8482() throws {
        let pipeline = DNSPipeline(middlewares: [MinimalANYMiddleware()], terminal: EchoHandler())
        let response = try #require(pipeline.begin(PolicyFixtures.request("a.example", .any)).answer)
        let answers = PolicyFixtures.decoded(response).answers
        #expect(answers.map(\.type) == [.hinfo])
        #expect(answers.first?.rdata == [7] + Array("RFC8482".utf8) + [0])
    }

    @Test func blockedNamesAndBlockedCNAMETargetsGetTheBlockAnswerPerGroup() throws {
        var kids = DomainRules()
        kids.add([.blockName, .blockBelow], for: DNSName("edge.cdn.example")!)
        var everyone = DomainRules()
        everyone.add(.blockName, for: DNSName("ads.example")!)
        let policy = BlockingPolicy(groups: [
            ClientGroup(name: "kids", clients: PrefixSet([IPPrefix("192.168.2.0/24")!]), rules: kids),
            ClientGroup(name: "default", clients: PrefixSet([]), rules: everyone),
        ], answer: .null, nullTTL: 30)
        let pipeline = DNSPipeline(middlewares: [BlockingMiddleware(policy: policy)], terminal: AliasingHandler())

        let ads = try #require(pipeline.begin(PolicyFixtures.request("ads.example", from: "192.168.1.5")).answer)
        #expect(ads.origin == .blocked)
        #expect(PolicyFixtures.decoded(ads).answers.map(\.rdata) == [[0, 0, 0, 0]])
        #expect(PolicyFixtures.decoded(ads).answers.first?.ttl == 30)
        #expect(PolicyFixtures.extendedError(ads) == 15)

        // The kids' group blocks the CNAME target: both the cached (immediate) and the forwarded path see it.
        let viaAlias = PolicyFixtures.request("www.allowed.example", .aaaa, from: "192.168.2.7")
        let immediate = try #require(pipeline.begin(viaAlias).answer)
        #expect(immediate.origin == .blocked)
        #expect(PolicyFixtures.decoded(immediate).answers.map(\.rdata) == [[UInt8](repeating: 0, count: 16)])
        #expect(try answer(pipeline, viaAlias).origin == .blocked)
        // The default group does not, and lets ads.example's neighbour through.
        let other = try answer(pipeline, PolicyFixtures.request("www.allowed.example", from: "192.168.1.5"))
        #expect(other.origin == .cache)
        #expect(PolicyFixtures.decoded(other).answers.count == 3)
    }

    /// A query that the cache cannot answer at once passes the deciding stages once: the pending part of the
    /// pipeline starts where the waiting began, so the limiter charges one token whatever the query's path.
    @Test func rateLimitChargesAQueryOnceWhenItWaitsForTheNextStage() throws {
        let limiter = ClientRateLimiter(settings: RateLimitSettings(queriesPerSecond: 0.001, burst: 5,
                                                                    action: .refuse))
        let waiting = AsynchronousStage()
        let pipeline = DNSPipeline(middlewares: [RateLimitMiddleware(limiter: limiter), waiting],
                                   terminal: EchoHandler())
        var answered = 0, refused = 0
        for _ in 0..<20 {
            switch pipeline.begin(PolicyFixtures.request("a.example", from: "10.0.0.1")) {
            case .answered(let response):
                #expect(PolicyFixtures.decoded(response).header.rcodeLow == DNSRCode.refused.rawValue)
                refused += 1
            case .pending(let pending):
                let response = try pending.finish(on: self.loop).wait()
                #expect(PolicyFixtures.decoded(response).header.rcodeLow == DNSRCode.noError.rawValue)
                answered += 1
            }
        }
        #expect(answered == 5, "the burst, each query charged once")
        #expect(refused == 15)
        #expect(waiting.handled.load(ordering: .relaxed) == 5, "only the waiting stage runs again")
    }

    /// A blocking stage that passed a query still sees the answer it waited for: its CNAME chain is checked.
    @Test func blockingReviewsTheAnswerOfAQueryThatWaited() throws {
        var rules = DomainRules()
        rules.add(.blockName, for: DNSName("edge.cdn.example")!)
        let policy = BlockingPolicy(groups: [ClientGroup(name: "all", clients: PrefixSet([]), rules: rules)],
                                    answer: .null)
        let pipeline = DNSPipeline(middlewares: [BlockingMiddleware(policy: policy), AsynchronousStage()],
                                   terminal: AliasingHandler())
        guard case .pending(let pending) = pipeline.begin(PolicyFixtures.request("www.allowed.example")) else {
            Issue.record("the asynchronous stage makes the query wait")
            return
        }
        #expect(try pending.finish(on: self.loop).wait().origin == .blocked)
    }

    @Test func nxdomainModeAnswersNXDOMAINWithExtendedError() throws {
        var rules = DomainRules()
        rules.add(.blockName, for: DNSName("ads.example")!)
        let policy = BlockingPolicy(groups: [ClientGroup(name: "all", clients: PrefixSet([]), rules: rules)],
                                    answer: .nxdomain)
        let pipeline = DNSPipeline(middlewares: [BlockingMiddleware(policy: policy)], terminal: EchoHandler())
        let response = try answer(pipeline, PolicyFixtures.request("ADS.example.", .txt))
        #expect(PolicyFixtures.decoded(response).header.rcodeLow == DNSRCode.nxDomain.rawValue)
        #expect(PolicyFixtures.extendedError(response) == 15)
    }
}
