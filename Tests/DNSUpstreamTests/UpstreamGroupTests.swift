@testable import DNSUpstream
import DNSTestSupport
import DNSWire
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Testing
import DNSCore

/// Selection policies, failover, health and hedging against real UDP servers on loopback.
@Suite(.serialized) struct UpstreamGroupTests {
    private final class Harness: Sendable {
        let group: MultiThreadedEventLoopGroup
        let servers: [FaultyUpstream]
        let resolvers: [ResolverUpstream]
        let upstream: UpstreamGroup

        init(_ behaviours: [FaultyUpstream.Behaviour], policy: SelectionPolicy = .sequential, weights: [Int]? = nil,
             attemptTimeout: TimeAmount = .milliseconds(300), hedging: Bool = false,
             health: UpstreamHealth.Settings = UpstreamHealth.Settings(),
             healthCheck: HealthCheck? = nil, padsQueries: Bool = false) throws {
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let servers = try behaviours.map { try FaultyUpstream(group: group, behaviour: $0) }
            let resolvers = try servers.map {
                try ResolverUpstream(address: try UpstreamAddress(parsing: $0.url), group: group,
                                     options: .init(),
                                     health: health, padsQueries: padsQueries, logger: Logger(label: "test"))
            }
            self.group = group
            self.servers = servers
            self.resolvers = resolvers
            self.upstream = UpstreamGroup(members: resolvers, policy: policy, weights: weights,
                                          attemptTimeout: attemptTimeout, hedging: hedging, healthCheck: healthCheck,
                                          eventLoop: group.next())
        }

        /// Sends `A name` through the group; returns the answer and how long it took.
        func query(_ name: String, timeout: TimeAmount = .seconds(5), udpPayloadSize: UInt16? = nil) async throws
            -> (answer: DNSMessage, elapsed: TimeAmount)
        {
            let dnsName = try #require(DNSName(name))
            let message = DNSMessage.query(dnsName, .a, id: 4242, udpPayloadSize: udpPayloadSize)
            let query = UpstreamQuery(message: message.encoded(),
                                      question: DNSQuestion(name: dnsName, type: .a), deadline: .now() + timeout)
            let start = NIODeadline.now()
            let loop = self.group.next()
            let answer = try await loop.flatSubmit { self.upstream.send(query, on: loop) }.get()
            return (try DNSMessage(answer.message), .now() - start)
        }

        func queries() -> [Int] { self.servers.map(\.queries) }

        func stop() async {
            await self.upstream.shutdown()
            for server in self.servers { server.stop() }
            try? await self.group.shutdownGracefully()
        }
    }

    @Test func roundRobinSpreadsQueriesEvenly() async throws {
        let harness = try Harness([.answer, .answer, .answer], policy: .roundRobin)
        for index in 0..<30 { _ = try await harness.query("rr\(index).example.") }
        #expect(harness.queries() == [10, 10, 10])
        await harness.stop()
    }

    @Test func weightedFollowsTheWeights() async throws {
        let harness = try Harness([.answer, .answer, .answer], policy: .weighted, weights: [1, 2, 3])
        for index in 0..<60 { _ = try await harness.query("w\(index).example.") }
        #expect(harness.queries() == [10, 20, 30])
        await harness.stop()
    }

    @Test func randomReachesEveryUpstream() async throws {
        let harness = try Harness([.answer, .answer, .answer], policy: .random)
        for index in 0..<300 { _ = try await harness.query("r\(index).example.") }
        let counts = harness.queries()
        #expect(counts.reduce(0, +) == 300)
        #expect(counts.allSatisfy { $0 > 60 }, "\(counts)")
        await harness.stop()
    }

    @Test func sequentialUsesTheFirstWhileItIsUp() async throws {
        let harness = try Harness([.answer, .answer])
        for index in 0..<10 { _ = try await harness.query("s\(index).example.") }
        #expect(harness.queries() == [10, 0])
        await harness.stop()
    }

    @Test func fastestPrefersTheFastOneAndNoticesARecovery() async throws {
        let harness = try Harness([.delay(.milliseconds(25)), .answer], policy: .fastest)
        for index in 0..<64 { _ = try await harness.query("f\(index).example.") }
        let first = harness.queries()
        #expect(first[1] >= 56, "the fast upstream takes most queries: \(first)")
        #expect(first[0] >= 2, "the slow one is still explored: \(first)")

        harness.servers[0].behaviour = .answer
        harness.servers[1].behaviour = .delay(.milliseconds(25))
        for index in 0..<160 { _ = try await harness.query("g\(index).example.") }
        let before = harness.queries()
        for index in 0..<64 { _ = try await harness.query("h\(index).example.") }
        let after = harness.queries()
        #expect(after[0] - before[0] >= 56, "the recovered upstream takes over: \(before) -> \(after)")
        await harness.stop()
    }

    @Test func failsOverWithinTheDeadlineAndSkipsADownUpstream() async throws {
        let harness = try Harness([.blackHole, .answer],
                                  health: UpstreamHealth.Settings(failureThreshold: 2, initialBackoff: .seconds(30)))
        for index in 0..<2 {
            let (answer, elapsed) = try await harness.query("d\(index).example.")
            #expect(answer.answers.count == 1)
            #expect(elapsed >= .milliseconds(280) && elapsed < .seconds(2), "one attempt timeout: \(elapsed)")
        }
        #expect(harness.resolvers[0].health.isDown)
        let (answer, _) = try await harness.query("after.example.")
        #expect(answer.answers.count == 1)
        #expect(harness.queries() == [2, 3], "the down upstream is skipped")
        await harness.stop()
    }

    @Test func aWrongAnswerIsNeverPassedOn() async throws {
        let harness = try Harness([.wrongAnswer, .answer])
        let (answer, _) = try await harness.query("right.example.")
        #expect(answer.questions.first?.name.description == "right.example.")
        #expect(answer.answers.first?.name.description == "right.example.")
        #expect(harness.queries() == [1, 1])
        #expect(harness.resolvers[0].statistics.snapshot.failures[.badReply] == 1)
        await harness.stop()
    }

    @Test func whenEveryUpstreamIsDownTheClientHearsWithinTheBound() async throws {
        let harness = try Harness([.blackHole], health: UpstreamHealth.Settings(failureThreshold: 1))
        await #expect(throws: UpstreamError.self) { try await harness.query("x.example.", timeout: .milliseconds(300)) }
        #expect(harness.resolvers[0].health.isDown)
        let start = NIODeadline.now()
        await #expect(throws: UpstreamError.self) { try await harness.query("y.example.", timeout: .seconds(5)) }
        let elapsed = NIODeadline.now() - start
        #expect(elapsed < .milliseconds(2500), "\(elapsed)")
        #expect(elapsed >= .milliseconds(1900), "a down upstream is still tried: \(elapsed)")
        #expect(harness.queries() == [2])
        await harness.stop()
    }

    @Test func activeChecksBringARecoveredUpstreamBack() async throws {
        let harness = try Harness([.blackHole, .answer],
                                  health: UpstreamHealth.Settings(failureThreshold: 1, initialBackoff: .seconds(60)),
                                  healthCheck: HealthCheck(interval: .milliseconds(100)))
        _ = try await harness.query("a.example.")
        #expect(harness.resolvers[0].health.isDown)
        harness.servers[0].behaviour = .answer
        var recovered = false
        for _ in 0..<40 where !recovered {
            try await Task.sleep(for: .milliseconds(50))
            recovered = !harness.resolvers[0].health.isDown
        }
        #expect(recovered, "a probe answered, so the upstream is up again")
        #expect(harness.servers[0].names.contains("."), "the probe asks . NS")
        _ = try await harness.query("b.example.")
        // The first upstream takes client queries again (probes keep arriving beside them, so only its name counts).
        #expect(harness.servers[0].names.filter { $0 == "b.example." }.count == 1)
        #expect(!harness.servers[1].names.contains("b.example."))
        await harness.stop()
    }

    @Test func hedgingAsksASecondUpstreamWhenTheFirstIsSlow() async throws {
        let harness = try Harness([.answer, .answer], attemptTimeout: .seconds(2), hedging: true)
        for index in 0..<8 { _ = try await harness.query("warm\(index).example.") }
        #expect(harness.queries() == [8, 0])
        harness.servers[0].behaviour = .delay(.milliseconds(800))
        let (answer, elapsed) = try await harness.query("slow.example.")
        #expect(answer.answers.count == 1)
        #expect(elapsed < .milliseconds(400), "the hedge answered first: \(elapsed)")
        #expect(harness.servers[1].names == ["slow.example."])

        let plain = try Harness([.delay(.milliseconds(300)), .answer], attemptTimeout: .seconds(2))
        let (_, unhedged) = try await plain.query("slow.example.")
        #expect(unhedged >= .milliseconds(290), "without hedging the slow answer is awaited: \(unhedged)")
        #expect(plain.queries() == [1, 0])
        await plain.stop()
        await harness.stop()
    }

    @Test func paddedQueriesOnTheWireAndNoPaddingBackToTheClient() async throws {
        let harness = try Harness([.answer], padsQueries: true)
        let (bare, _) = try await harness.query("a.example.")
        #expect(bare.additionals.isEmpty, "a client that sent no OPT gets none back")
        let (edns, _) = try await harness.query("a-much-longer-name.for-padding.example.", udpPayloadSize: 1232)
        let opt = try #require(edns.additionals.first)
        #expect(opt.type == .opt)
        #expect(opt.rdata.isEmpty, "the echoed padding is taken out")
        #expect(harness.servers[0].sizes.count == 2)
        #expect(harness.servers[0].sizes.allSatisfy { $0 % 128 == 0 }, "\(harness.servers[0].sizes)")
        await harness.stop()

        let plain = try Harness([.answer])
        _ = try await plain.query("a.example.")
        #expect(plain.servers[0].sizes == [27], "no padding unless asked for: 12 + 11 + 4")
        await plain.stop()
    }

    @Test func conditionalForwardingPicksTheLongestMatchingDomain() async throws {
        let harness = try Harness([.answer, .answer, .answer])
        let group = { (index: Int) in
            UpstreamGroup(members: [harness.resolvers[index]], policy: .sequential, attemptTimeout: .seconds(1),
                          eventLoop: harness.group.next())
        }
        let conditional = ConditionalUpstream(
            rules: [try #require(DNSName("corp.example.")): group(1), try #require(DNSName("x.corp.example.")): group(2)],
            fallback: group(0))
        let expectations = [("www.example.", 0), ("corp.example.", 1), ("A.B.CORP.Example.", 1), ("x.corp.example.", 2),
                            ("deep.x.corp.example.", 2), ("xcorp.example.", 0), ("example.", 0)]
        for (name, index) in expectations {
            let chosen = conditional.upstream(for: try #require(DNSName(name))) as? UpstreamGroup
            #expect(chosen?.members.first === harness.resolvers[index], "\(name)")
        }
        let loop = harness.group.next()
        for (name, _) in expectations {
            let dnsName = try #require(DNSName(name))
            let query = UpstreamQuery(message: DNSMessage.query(dnsName, .a, id: 1).encoded(),
                                      question: DNSQuestion(name: dnsName, type: .a), deadline: .now() + .seconds(2))
            _ = try await loop.flatSubmit { conditional.send(query, on: loop) }.get()
        }
        #expect(harness.servers[0].names == ["www.example.", "xcorp.example.", "example."])
        #expect(harness.servers[1].names == ["corp.example.", "A.B.CORP.Example."])
        #expect(harness.servers[2].names == ["x.corp.example.", "deep.x.corp.example."])
        await harness.stop()
    }

    @Test func forwardingRulesParse() throws {
        let rule = try ForwardingRule(parsing: "Corp.Example udp://10.0.0.53 weight=2 tcp://10.0.0.54 policy=weighted")
        #expect(rule.domain == DNSName("corp.example."))
        #expect(rule.upstreams.map(\.description) == ["udp://10.0.0.53:53 weight=2", "tcp://10.0.0.54:53"])
        #expect(rule.policy == .weighted)
        for (text, reason) in [("corp.example", "no upstream"), ("corp.example weight=2 udp://1.2.3.4", "before any"),
                               ("corp.example udp://1.2.3.4 policy=best", "unknown policy"),
                               ("corp.example ftp://1.2.3.4", "unknown scheme")] {
            #expect { try ForwardingRule(parsing: text) } throws: { "\($0)".contains(reason) }
        }
    }

    @Test func afterItsBackOffADownUpstreamGetsOneTrialQueryAtATime() {
        let clock = TestClock()
        let health = UpstreamHealth(name: "test", settings: .init(failureThreshold: 1, initialBackoff: .milliseconds(100)),
                                    logger: Logger(label: "test"), clock: { clock.now() })
        health.failed(error: UpstreamError.timeout("test"))
        #expect(health.isDown)
        #expect(health.availability(at: clock.now()) == .backingOff)
        #expect(!health.beginTrial(at: clock.now()), "backing off")
        clock.advance(by: .milliseconds(150))
        #expect(health.availability(at: clock.now()) == .trialDue, "asking takes nothing")
        #expect(health.availability(at: clock.now()) == .trialDue)
        #expect(health.beginTrial(at: clock.now()), "the back-off is over: one trial")
        #expect(!health.beginTrial(at: clock.now()), "only one trial at a time")
        #expect(health.availability(at: clock.now()) == .backingOff)
        health.failed(error: UpstreamError.timeout("test"))
        #expect(!health.beginTrial(at: clock.now()), "the trial failed: a longer back-off")
        clock.advance(by: .milliseconds(250))
        #expect(health.beginTrial(at: clock.now()))
        // A trial whose outcome is never reported (a query given up on) lapses instead of holding the slot for ever.
        clock.advance(by: UpstreamHealth.trialLease)
        #expect(health.beginTrial(at: clock.now()), "the lapsed trial's slot is free again")
        health.succeeded(roundTrip: .milliseconds(1))
        #expect(!health.isDown)
        #expect(health.beginTrial(at: clock.now()) && health.beginTrial(at: clock.now()), "up again: no limit")
    }

    /// Round robin over three: the second is black-holed until it is down, then heals. Each query takes its trial
    /// only if it really goes to it, so it is back in rotation after its back-off instead of never.
    @Test func aHealedUpstreamIsBackInRotationAfterItsBackOff() async throws {
        let harness = try Harness([.answer, .blackHole, .answer], policy: .roundRobin,
                                  attemptTimeout: .milliseconds(200),
                                  health: UpstreamHealth.Settings(failureThreshold: 2, initialBackoff: .milliseconds(300)))
        var sent = 0
        while !harness.resolvers[1].health.isDown, sent < 30 {
            _ = try await harness.query("down\(sent).example.")
            sent += 1
        }
        #expect(harness.resolvers[1].health.isDown)
        harness.servers[1].behaviour = .answer
        let healed = harness.queries()[1]
        // Queries keep flowing; within 3 s (ten back-offs) the healed one must get its share. Bounded in count and
        // in time.
        let deadline = NIODeadline.now() + .seconds(3)
        var index = 0
        while harness.queries()[1] - healed < 5, NIODeadline.now() < deadline, index < 100_000 {
            _ = try await harness.query("up\(index).example.")
            index += 1
        }
        #expect(harness.queries()[1] - healed >= 5, "the healed upstream answers client queries again: \(harness.queries())")
        #expect(!harness.resolvers[1].health.isDown)
        await harness.stop()
    }

    /// Sequential over three, the first answering 400 ms late: each query is hedged after the fastest upstream's
    /// high latency (bounded by the cap), not after the slow one's own, which follows it up.
    @Test func hedgingTakesItsDelayFromTheFastestUpstream() async throws {
        let harness = try Harness([.delay(.milliseconds(400)), .answer, .answer], attemptTimeout: .milliseconds(1500),
                                  hedging: true)
        var elapsed: [TimeAmount] = []
        for index in 0..<20 { elapsed.append(try await harness.query("hedge\(index).example.").elapsed) }
        let median = elapsed.sorted()[elapsed.count / 2]
        #expect(median < .milliseconds(250), "median \(median)")
        #expect(harness.queries()[1] >= 19, "the hedges went to the next upstream: \(harness.queries())")
        #expect(harness.upstream.hedgeDelay() <= UpstreamGroup.hedgeDelayCap)
        await harness.stop()
    }
}
