import Foundation
import Testing

extension IntegrationSuite {
    /// The response cache in front of a real upstream: knot's own query counter shows what reached it.
    @Suite struct CacheTests {
        static let port = 15374
        let upstream: TestUpstream

        init() throws {
            self.upstream = try TestUpstream.shared.get()
        }

        private func start(config: String = "") throws -> Daemon {
            let path = NSTemporaryDirectory() + "dnsgate-cache-\(getpid()).yaml"
            try config.write(toFile: path, atomically: true, encoding: .utf8)
            return try DNSGateBinary.start(port: Self.port, arguments: [
                "--listen", "127.0.0.1:\(Self.port)", "--upstream", self.upstream.dotURL,
                "--ca-file", self.upstream.caPath, "--config", path,
            ])
        }

        @Test func repeatedNamesAreAnsweredWithoutAskingKnotAndTTLsCountDown() throws {
            let dnsgate = try self.start()
            defer { dnsgate.stop() }
            let name = "h000700." + TestUpstream.zone
            let before = try self.upstream.knotQueryCount()
            let first = try #require(try Kdig.query(name, port: Self.port))
            #expect(first.answers == ["\(name) 3600 IN A 198.18.2.188"])
            for options in [[], ["+tcp"], [], ["+tcp"]] {
                #expect(try Kdig.query(name, port: Self.port, options: options)?.answers.count == 1)
            }
            #expect(try self.upstream.knotQueryCount() == before + 1)
            sleep(2)
            let later = try #require(try Kdig.query(name, port: Self.port))
            let ttl = later.answers.first?.split(separator: " ").dropFirst().first.flatMap { Int($0) }
            #expect(ttl.map { $0 <= 3598 && $0 >= 3590 } == true, "TTL \(String(describing: ttl)) after 2 s")
            #expect(try self.upstream.knotQueryCount() == before + 1)
            // Negative answers are cached too (the zone's SOA minimum is 300 s).
            let nx = "nothing-700." + TestUpstream.zone
            for _ in 0..<2 {
                let reply = try Kdig.query(nx, port: Self.port)
                #expect(reply?.status == "NXDOMAIN", "\(reply?.raw ?? "no reply")\n\(dnsgate.log)")
            }
            #expect(try self.upstream.knotQueryCount() == before + 2)
        }

        @Test func aSavedCacheAnswersAfterARestartWithoutAskingKnot() throws {
            let file = NSTemporaryDirectory() + "dnsgate-saved-cache-\(getpid()).bin"
            try? FileManager.default.removeItem(atPath: file)
            defer { try? FileManager.default.removeItem(atPath: file) }
            let config = "cache:\n  save_file: \(file)\n"
            let name = "h000701." + TestUpstream.zone
            var dnsgate = try self.start(config: config)
            #expect(try Kdig.query(name, port: Self.port)?.answers == ["\(name) 3600 IN A 198.18.2.189"])
            let before = try self.upstream.knotQueryCount()
            #expect(dnsgate.stop() == 0)
            #expect(dnsgate.log.contains("cache saved"), "\(dnsgate.log)")
            let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
            #expect(mode == 0o600, "the file lists asked names: owner only")
            sleep(2)
            dnsgate = try self.start(config: config)
            defer { dnsgate.stop() }
            #expect(dnsgate.log.contains("answers=1"), "\(dnsgate.log)")
            let later = try #require(try Kdig.query(name, port: Self.port))
            let ttl = later.answers.first?.split(separator: " ").dropFirst().first.flatMap { Int($0) }
            #expect(ttl.map { $0 <= 3598 && $0 >= 3580 } == true, "aged across the restart: \(later.answers)")
            #expect(try self.upstream.knotQueryCount() == before, "answered from the restored cache")
            // A broken file is a cold start, not a failed one.
            dnsgate.stop()
            try Data("garbage".utf8).write(to: URL(fileURLWithPath: file))
            dnsgate = try self.start(config: config)
            #expect(dnsgate.log.contains("saved cache ignored"), "\(dnsgate.log)")
            #expect(try Kdig.query(name, port: Self.port)?.status == "NOERROR")
        }

        @Test func staleAnswersCoverAnUpstreamOutageWithinTwoSecondsUntilTheStaleLimit() throws {
            let dnsgate = try self.start(config: "cache:\n  serve_stale_max: 4s\n  stale_ttl: 30s\n")
            defer { dnsgate.stop() }
            let name = "short." + TestUpstream.zone
            #expect(try Kdig.query(name, port: Self.port)?.answers == ["\(name) 1 IN A 198.19.255.2"])
            self.upstream.killTerminator()
            var restarted = false
            defer { if !restarted { try? self.upstream.startTerminator() } }
            usleep(1_500_000)
            // Expired, the only upstream refuses connections: the stale copy within 2 s (RFC 8767's client
            // response timer), with the stale TTL and Extended DNS Error 3.
            let start = Date()
            let stale = try #require(try Kdig.query(name, port: Self.port, options: ["+edns"], timeout: 8))
            let elapsed = Date().timeIntervalSince(start)
            #expect(stale.status == "NOERROR")
            #expect(stale.answers == ["\(name) 30 IN A 198.19.255.2"])
            #expect(stale.raw.contains("EDE: 3"), "\(stale.raw)")
            #expect(elapsed < 2, "answered after \(elapsed) s")
            sleep(4)
            // Past the stale limit: the failure shows, still within 2 s.
            let failureStart = Date()
            #expect(try Kdig.query(name, port: Self.port, timeout: 8)?.status == "SERVFAIL")
            #expect(Date().timeIntervalSince(failureStart) < 2.5)
            // The upstream is back: fresh data again.
            try self.upstream.startTerminator()
            restarted = true
            var fresh: [String] = []
            for _ in 0..<30 where fresh != ["\(name) 1 IN A 198.19.255.2"] {
                fresh = try Kdig.query(name, port: Self.port, timeout: 8)?.answers ?? []
                if fresh != ["\(name) 1 IN A 198.19.255.2"] { usleep(200_000) }
            }
            #expect(fresh == ["\(name) 1 IN A 198.19.255.2"], "\(dnsgate.log)")
        }
    }
}
