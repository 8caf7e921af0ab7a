import Foundation
import Testing

extension IntegrationSuite {
    /// The fake-IP resolver through the real binary: answers, persistence across a restart, and the CLI.
    @Suite struct FakeIPDNSTests {
        static let port = 15391
        let upstream: TestUpstream

        init() throws {
            self.upstream = try TestUpstream.shared.get()
        }

        @Test func namesGetStableFakeAddressesThatSurviveARestart() throws {
            let directory = NSTemporaryDirectory() + "dnsgate-fakeip-\(getpid())"
            try? FileManager.default.removeItem(atPath: directory)
            let config = directory + ".yaml"
            try "fakeip:\n  enabled: true\n  database: \(directory)/map.sqlite\n  exclude: [v6.\(TestUpstream.zone)]\n"
                .write(toFile: config, atomically: true, encoding: .utf8)
            let arguments = ["--listen", "127.0.0.1:\(Self.port)", "--upstream", self.upstream.dotURL,
                             "--ca-file", self.upstream.caPath, "--config", config]
            let zone = TestUpstream.zone
            var dnsgate = try DNSGateBinary.start(port: Self.port, arguments: arguments, name: "dnsgate-fakeip")
            let first = try #require(try Kdig.query("h000001." + zone, port: Self.port))
            #expect(first.answers == ["h000001.\(zone) 60 IN A 198.18.0.1"])
            #expect(try Kdig.query("H000001." + zone, port: Self.port)?.answers.first?.hasSuffix("198.18.0.1") == true)
            #expect(try Kdig.query("h000002." + zone, port: Self.port)?.answers.first?.hasSuffix("198.18.0.2") == true)
            // A name that does not exist keeps its NXDOMAIN and takes no address.
            #expect(try Kdig.query("nothing." + zone, port: Self.port)?.status == "NXDOMAIN")
            // AAAA: no IPv6 range, so NODATA; an excluded name resolves for real.
            let aaaa = try #require(try Kdig.query("h000001." + zone, "AAAA", port: Self.port))
            #expect(aaaa.status == "NOERROR" && aaaa.answers.isEmpty)
            #expect(try Kdig.query("v6." + zone, "AAAA", port: Self.port)?.answers == ["v6.\(zone) 3600 IN AAAA 2001:db8::1"])
            let ptr = try Kdig.query("1.0.18.198.in-addr.arpa.", "PTR", port: Self.port)
            #expect(ptr?.answers == ["1.0.18.198.in-addr.arpa. 60 IN PTR h000001.\(zone)"])
            #expect(dnsgate.stop() == 0)

            // The CLI reads the mapping the daemon flushed on SIGTERM.
            let listed = try runCommand(DNSGateBinary.path, ["fakeip", "list", "--config", config])
            #expect(listed.output.contains("198.18.0.1\th000001.\(zone)"), "\(listed.output) \(listed.error)")
            #expect(listed.output.contains("198.18.0.2\th000002.\(zone)"))
            #expect(!listed.output.contains("nothing"))
            let lookup = try runCommand(DNSGateBinary.path, ["fakeip", "lookup", "198.18.0.2", "--config", config])
            #expect(lookup.output.hasPrefix("198.18.0.2\th000002.\(zone)"))

            dnsgate = try DNSGateBinary.start(port: Self.port, arguments: arguments, name: "dnsgate-fakeip")
            defer { dnsgate.stop() }
            #expect(try Kdig.query("h000002." + zone, port: Self.port)?.answers.first?.hasSuffix("198.18.0.2") == true)
            #expect(try Kdig.query("h000003." + zone, port: Self.port)?.answers.first?.hasSuffix("198.18.0.3") == true,
                    "a new name takes the next address after the restart")
        }

        @Test func anUnusableDatabaseStopsStartUpWithAClearMessage() throws {
            let file = NSTemporaryDirectory() + "dnsgate-fakeip-file-\(getpid())"
            try "not a directory".write(toFile: file, atomically: true, encoding: .utf8)
            let config = file + ".yaml"
            try "fakeip:\n  enabled: true\n  database: \(file)/map.sqlite\n".write(toFile: config, atomically: true,
                                                                                   encoding: .utf8)
            let result = try runCommand(DNSGateBinary.path, [
                "serve", "--listen", "127.0.0.1:\(Self.port)", "--upstream", self.upstream.dotURL, "--config", config,
            ])
            #expect(result.status != 0)
            #expect(result.error.contains("cannot open the fake-IP database \(file)/map.sqlite"), "\(result.error)")
        }

        /// A fake-IP answer is spelt the same in the query log and in the metrics: `fakeip`.
        @Test func fakeIPAnswersAreNamedOneWayInTheQueryLogAndTheMetrics() throws {
            let directory = NSTemporaryDirectory() + "dnsgate-fakeip-source-\(getpid())"
            try? FileManager.default.removeItem(atPath: directory)
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let dnsgate = try DNSGateBinary.start(port: Self.port, arguments: [
                "--listen", "127.0.0.1:\(Self.port)", "--upstream", self.upstream.dotURL, "--ca-file", self.upstream.caPath,
                "--admin-listen", "127.0.0.1:15414", "--query-log", directory + "/queries.log",
            ], name: "dnsgate-fakeip-source", environment: [
                "DNSGATE_FAKEIP_ENABLED": "true", "DNSGATE_FAKEIP_DATABASE": directory + "/map.sqlite",
                "DNSGATE_FAKEIP_RESOLVE_FIRST": "false",
            ])
            defer { dnsgate.stop() }
            #expect(try Kdig.query("h000001." + TestUpstream.zone, port: Self.port)?.answers.count == 1)
            #expect(waitUntil(timeout: 5) {
                ((try? String(contentsOfFile: directory + "/queries.log", encoding: .utf8)) ?? "").contains("\"source\":\"fakeip\"")
            })
            let metrics = try runCommand("/usr/bin/curl", ["-s", "http://127.0.0.1:15414/metrics"]).output
            #expect(metrics.contains("dnsgate_answers_total{source=\"fakeip\"} 1"), "\(metrics)")
        }
    }
}
