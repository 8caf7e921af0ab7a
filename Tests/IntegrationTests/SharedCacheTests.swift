import Foundation
import Testing

extension IntegrationSuite {
    /// Two dnsgate instances sharing answers through a real redis-server, and what happens when Redis dies.
    @Suite struct SharedCacheTests {
        static let ports = (first: 15378, second: 15379, redis: 15380)
        let upstream: TestUpstream

        init() throws {
            self.upstream = try TestUpstream.shared.get()
        }

        private func start(port: Int, redis: TestRedis, extra: String = "") throws -> Daemon {
            let path = NSTemporaryDirectory() + "dnsgate-shared-\(getpid())-\(port).yaml"
            try "cache:\n  redis: \(redis.url)\n  redis_timeout: 50ms\n\(extra)"
                .write(toFile: path, atomically: true, encoding: .utf8)
            return try DNSGateBinary.start(port: port, arguments: [
                "--listen", "127.0.0.1:\(port)", "--upstream", self.upstream.dotURL,
                "--ca-file", self.upstream.caPath, "--config", path,
            ], name: "dnsgate-shared")
        }

        @Test func twoInstancesServeEachOthersAnswers() throws {
            let redis = try TestRedis(port: Self.ports.redis)
            defer { redis.kill() }
            let first = try self.start(port: Self.ports.first, redis: redis)
            defer { first.stop() }
            let second = try self.start(port: Self.ports.second, redis: redis)
            defer { second.stop() }

            for (asked, other) in [(Self.ports.first, Self.ports.second), (Self.ports.second, Self.ports.first)] {
                let name = "h0018\(asked % 10)0." + TestUpstream.zone
                let before = try self.upstream.knotQueryCount()
                let original = try #require(try Kdig.query(name, port: asked))
                #expect(original.answers.count == 1)
                #expect(try waitUntil(timeout: 5) { try redis.keyCount() >= 1 }, "the answer reached Redis")
                sleep(1)
                let shared = try #require(try Kdig.query(name, port: other))
                #expect(shared.status == "NOERROR")
                let sharedTTL = shared.answers.first?.split(separator: " ").dropFirst().first.flatMap { Int($0) }
                #expect(sharedTTL.map { $0 < 3600 && $0 >= 3590 } == true, "aged TTL, got \(shared.answers)")
                #expect(shared.answers.first?.hasSuffix("IN A " + (original.answers.first?.split(separator: " ")
                    .last.map(String.init) ?? "?")) == true)
                #expect(try self.upstream.knotQueryCount() == before + 1, "only the first instance asked knot")
            }
            // Negative answers are shared too.
            let missing = "nothing-shared." + TestUpstream.zone
            let before = try self.upstream.knotQueryCount()
            #expect(try Kdig.query(missing, port: Self.ports.first)?.status == "NXDOMAIN")
            usleep(200_000)
            #expect(try Kdig.query(missing, port: Self.ports.second)?.status == "NXDOMAIN")
            #expect(try self.upstream.knotQueryCount() == before + 1)
        }

        @Test func garbageInRedisIsAMissNotAFailure() throws {
            let redis = try TestRedis(port: Self.ports.redis)
            defer { redis.kill() }
            let dnsgate = try self.start(port: Self.ports.first, redis: redis)
            defer { dnsgate.stop() }
            // Publish one real answer to learn the key format, then overwrite every key with junk.
            #expect(try Kdig.query("h001900." + TestUpstream.zone, port: Self.ports.first)?.answers.count == 1)
            #expect(try waitUntil(timeout: 5) { try redis.keyCount() >= 1 })
            let second = try self.start(port: Self.ports.second, redis: redis)
            defer { second.stop() }
            for key in try redis.cli(["--raw", "KEYS", "*"]).split(separator: "\n") {
                try redis.cli(["SET", String(key), "\u{1}garbage that is not a DNS message"])
            }
            let reply = try #require(try Kdig.query("h001900." + TestUpstream.zone, port: Self.ports.second))
            #expect(reply.status == "NOERROR")
            #expect(reply.answers == ["h001900.\(TestUpstream.zone) 3600 IN A 198.18.7.108"])
        }

        @Test func killingRedisMidRunLosesNoQuery() throws {
            let redis = try TestRedis(port: Self.ports.redis)
            defer { redis.kill() }
            let dnsgate = try self.start(port: Self.ports.first, redis: redis)
            defer { dnsgate.stop() }
            let names = NSTemporaryDirectory() + "dnsgate-shared-names-\(getpid())"
            try (1000..<1600).map { String(format: "h%06d.%@ A", $0, TestUpstream.zone) }.joined(separator: "\n")
                .write(toFile: names, atomically: true, encoding: .utf8)
            let killer = Thread {
                usleep(700_000)
                redis.kill()
            }
            killer.start()
            // 600 names twice at 400 queries per second: about 3 s, Redis killed after 0.7 s.
            let result = try runCommand("/usr/bin/dnsperf", [
                "-s", "127.0.0.1", "-p", "\(Self.ports.first)", "-d", names, "-n", "2", "-Q", "400", "-t", "3",
                "-l", "20",
            ])
            #expect(result.output.contains("Queries sent:         1200"), "\(result.output)")
            #expect(result.output.contains("Queries lost:         0 ("), "\(result.output)")
            #expect(result.output.contains("NOERROR 1200 "), "\(result.output)")
            #expect(dnsgate.log.contains("Redis connection closed"))
            // Redis comes back: dnsgate reconnects by itself and publishes again.
            try redis.start()
            #expect(try waitUntil(timeout: 10) { dnsgate.log.contains("Redis reachable again") }, "\(dnsgate.log)")
            #expect(try Kdig.query("h001950." + TestUpstream.zone, port: Self.ports.first)?.answers.count == 1)
            #expect(try waitUntil(timeout: 5) { try redis.keyCount() >= 1 })
        }
    }
}
