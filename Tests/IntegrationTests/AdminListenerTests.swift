import Foundation
import Testing

extension IntegrationSuite {
    /// The admin listener: metrics scraped by a real Prometheus, health and readiness, the API, its token.
    @Suite struct AdminListenerTests {
        static let dnsPort = 15383
        static let adminPort = 15384
        static let slowPort = 15386

        /// GETs (or POSTs) `path` on the admin listener: the status code and the body.
        static func http(_ path: String, method: String = "GET", token: String? = nil) throws -> (Int, String) {
            let result = try runCommand("/usr/bin/curl", ["-s", "--max-time", "5", "-X", method, "-w", "\n%{http_code}"]
                + (token.map { ["-H", "Authorization: Bearer \($0)"] } ?? [])
                + ["http://127.0.0.1:\(Self.adminPort)\(path)"])
            let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
            let body = lines.dropLast().joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
            return (Int(lines.last ?? "") ?? 0, body)
        }

        static func startDNSGate(_ upstream: String, extra: [String] = []) throws -> Daemon {
            try DNSGateBinary.start(port: Self.dnsPort, arguments: [
                "--listen", "127.0.0.1:\(Self.dnsPort)", "--upstream", upstream,
                "--admin-listen", "127.0.0.1:\(Self.adminPort)",
            ] + extra, name: "dnsgate-admin")
        }

        @Test func aRealPrometheusSeesTheCountersMoveByExactlyTheQueriesSent() throws {
            let upstream = try TestUpstream.shared.get()
            let dnsgate = try Self.startDNSGate(upstream.dotURL, extra: ["--ca-file", upstream.caPath])
            defer { dnsgate.stop() }
            let prometheus = try Prometheus(scraping: "127.0.0.1:\(Self.adminPort)")
            defer { prometheus.stop() }

            // 40 distinct names over UDP with dnsperf, 10 over TCP with kdig, then 5 of the UDP names again (hits).
            let names = NSTemporaryDirectory() + "dnsgate-admin-names-\(getpid()).txt"
            try (1700..<1740).map { String(format: "h%06d.%@ A", $0, TestUpstream.zone) }.joined(separator: "\n")
                .write(toFile: names, atomically: true, encoding: .utf8)
            let perf = try runCommand("/usr/bin/dnsperf", ["-s", "127.0.0.1", "-p", "\(Self.dnsPort)", "-d", names,
                                                           "-n", "1", "-t", "5", "-l", "20"])
            #expect(perf.output.contains("Queries completed:    40 "), "\(perf.output)")
            for index in 1800..<1810 {
                let reply = try Kdig.query(String(format: "h%06d.%@", index, TestUpstream.zone), port: Self.dnsPort,
                                           options: ["+tcp"])
                #expect(reply?.status == "NOERROR")
            }
            for index in 1700..<1705 {
                #expect(try Kdig.query(String(format: "h%06d.%@", index, TestUpstream.zone), port: Self.dnsPort)?
                    .status == "NOERROR")
            }
            let expected: [(String, Double)] = [
                ("sum(dnsgate_queries_total{transport=\"udp\",type=\"A\",rcode=\"NOERROR\"})", 45),
                ("sum(dnsgate_queries_total{transport=\"tcp\",type=\"A\",rcode=\"NOERROR\"})", 10),
                ("dnsgate_cache_hits_total", 5),
                ("dnsgate_cache_misses_total", 50),
                ("dnsgate_answers_total{source=\"cache\"}", 5),
                ("dnsgate_request_duration_seconds_count{transport=\"udp\"}", 45),
                ("sum(dnsgate_upstream_queries_total)", 50),
            ]
            var seen: [String: Double?] = [:]
            let settled = try waitUntil(timeout: 20) {
                for (query, _) in expected { seen[query] = try prometheus.value(of: query) }
                return expected.allSatisfy { seen[$0.0] == $0.1 }
            }
            #expect(settled, "Prometheus saw \(seen)")
            #expect(try prometheus.value(of: "up{job=\"dnsgate\"}") == 1)

            // The JSON figures agree, and a flushed name is asked upstream again.
            let (status, body) = try Self.http("/api/v1/stats")
            #expect(status == 200 && body.contains("\"queries\":55"), "\(body)")
            let (flushStatus, flushed) = try Self.http("/api/v1/cache/flush?name=h001700.\(TestUpstream.zone)",
                                                       method: "POST")
            #expect(flushStatus == 200 && flushed == "{\"flushed\":1}", "\(flushed)")
            _ = try Kdig.query("h001700." + TestUpstream.zone, port: Self.dnsPort)
            #expect(try Self.http("/metrics").1.contains("dnsgate_cache_misses_total 51"))
        }

        /// The dashboard in a real browser (headless Chromium) under light load: the figures it rendered from its last
        /// sample match `/api/v1/stats` read right after, within what the load adds in between.
        @Test func theDashboardShowsTheLiveFiguresInARealBrowser() throws {
            let upstream = try TestUpstream.shared.get()
            let dnsgate = try Self.startDNSGate(upstream.dotURL, extra: ["--ca-file", upstream.caPath])
            defer { dnsgate.stop() }
            let names = NSTemporaryDirectory() + "dnsgate-dashboard-names-\(getpid()).txt"
            try (1750..<1760).map { String(format: "h%06d.%@ A", $0, TestUpstream.zone) }.joined(separator: "\n")
                .write(toFile: names, atomically: true, encoding: .utf8)
            let rate = 20.0
            let load = try Daemon(name: "dnsperf", executable: "/usr/bin/dnsperf", arguments: [
                "-s", "127.0.0.1", "-p", "\(Self.dnsPort)", "-d", names, "-Q", "\(Int(rate))", "-l", "12",
            ], logPath: NSTemporaryDirectory() + "dnsgate-dashboard-load-\(getpid()).log")
            defer { load.stop() }
            #expect(try waitUntil(timeout: 5) { try Self.http("/api/v1/stats").1.contains("\"queries\":2") })

            let chromium = ["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,1000",
                            "--virtual-time-budget=3000"]
            let url = "http://127.0.0.1:\(Self.adminPort)/"
            let page = try runCommand("/usr/bin/chromium", chromium + ["--dump-dom", url])
            let sampled = Date()
            let (_, json) = try Self.http("/api/v1/stats")
            let read = Date()
            let stats = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            let apiQueries = try #require(stats["queries"] as? Int)
            let shown = try #require(page.output.firstMatch(of: /id="queries" data-value="(\d+)"/).map { Int($0.1) })
            let domQueries = try #require(shown)
            let allowance = Int(rate * (read.timeIntervalSince(sampled) + 3)) + 5  // between the page's sample and ours
            #expect(domQueries > 0 && domQueries <= apiQueries && apiQueries - domQueries <= allowance,
                    "page \(domQueries), API \(apiQueries)")
            #expect(page.output.contains("<td>\(upstream.dotURL)</td><td class=\"up\">up</td>"), "\(page.output)")
            #expect(page.output.firstMatch(of: /id="hit-ratio">\d+\.\d %</) != nil)
            #expect(page.output.firstMatch(of: /id="memory">\d+\.\d MiB</) != nil)

            // The screenshot, kept as an artifact of the run.
            let artifacts = URL(fileURLWithPath: DNSGateBinary.path).deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("test-artifacts").path
            try FileManager.default.createDirectory(atPath: artifacts, withIntermediateDirectories: true)
            let screenshot = artifacts + "/dashboard.png"
            try? FileManager.default.removeItem(atPath: screenshot)
            _ = try runCommand("/usr/bin/chromium", chromium + ["--screenshot=\(screenshot)", url])
            let size = (try? FileManager.default.attributesOfItem(atPath: screenshot)[.size] as? Int) ?? 0
            #expect(size > 10_000, "a screenshot at \(screenshot)")
        }

        @Test func readinessFollowsTheOnlyUpstreamDownAndBack() throws {
            var slow: SlowUpstream? = try SlowUpstream(port: Self.slowPort, delay: .zero)
            let dnsgate = try Self.startDNSGate("tcp://127.0.0.1:\(Self.slowPort)")
            defer {
                dnsgate.stop()
                slow?.stop()
            }
            #expect(try Self.http("/healthz") == (200, "ok"))
            #expect(try Self.http("/readyz") == (200, "ready"))
            slow?.stop()
            slow = nil
            // The last answer is within the readiness window (5 s) for a while; then the probe finds nobody.
            #expect(try waitUntil(timeout: 15) { try Self.http("/readyz").0 == 503 })
            #expect(try Self.http("/readyz").1.contains("no upstream answered"))
            #expect(try Self.http("/healthz").0 == 200, "alive even when not ready")
            slow = try SlowUpstream(port: Self.slowPort, delay: .zero)
            #expect(try waitUntil(timeout: 15) { try Self.http("/readyz").0 == 200 })
            let upstreams = try Self.http("/api/v1/upstreams").1
            #expect(upstreams.contains("\"name\":\"tcp://127.0.0.1:\(Self.slowPort)\"") && upstreams.contains("\"state\":\"up\""),
                    "\(upstreams)")
        }

        @Test func aTokenGuardsTheAPIAndANonLoopbackListenerNeedsOne() throws {
            let refused = try runCommand(DNSGateBinary.path, ["check-config", "--admin-listen", "0.0.0.0:\(Self.adminPort)"])
            #expect(refused.status != 0)
            #expect(refused.error.contains("admin.listen") && refused.error.contains("admin.token"), "\(refused.error)")

            let tokenFile = NSTemporaryDirectory() + "dnsgate-admin-token-\(getpid())"
            try "s3cret-token\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
            let config = try runCommand(DNSGateBinary.path, ["check-config", "--admin-listen", "0.0.0.0:\(Self.adminPort)",
                                                             "--admin-token-file", tokenFile])
            #expect(config.status == 0, "\(config.error)")
            #expect(config.output.contains("admin.token: ***") && !config.output.contains("s3cret"), "\(config.output)")

            let dnsgate = try Self.startDNSGate("tcp://127.0.0.1:\(TestUpstream.knotPort)",
                                                extra: ["--admin-token-file", tokenFile])
            defer { dnsgate.stop() }
            #expect(try Self.http("/metrics").0 == 401)
            #expect(try Self.http("/api/v1/stats", token: "wrong").0 == 401)
            #expect(try Self.http("/api/v1/cache/flush", method: "POST").0 == 401)
            #expect(try Self.http("/metrics", token: "s3cret-token").0 == 200)
            let (status, configJSON) = try Self.http("/api/v1/config", token: "s3cret-token")
            #expect(status == 200 && configJSON.contains("\"admin.token\":\"***\"") && !configJSON.contains("s3cret"))
            #expect(try Self.http("/healthz").0 == 200, "probes need no token")

            // A new token in the file takes effect at the next reload, which names it.
            try "n3w-token\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
            let (reloaded, result) = try Self.http("/api/v1/reload", method: "POST", token: "s3cret-token")
            #expect(reloaded == 200 && result.contains("applied: admin.token"), "\(result)")
            #expect(try Self.http("/metrics", token: "s3cret-token").0 == 401)
            #expect(try Self.http("/metrics", token: "n3w-token").0 == 200)
        }

        @Test func aTakenDefaultAdminPortIsAWarningAndAChosenOneAnError() throws {
            let knot = "tcp://127.0.0.1:\(TestUpstream.knotPort)"
            let first = try DNSGateBinary.start(port: Self.dnsPort, arguments: [
                "--listen", "127.0.0.1:\(Self.dnsPort)", "--upstream", knot,
            ], name: "dnsgate-admin-first")
            defer { first.stop() }
            #expect(first.log.contains("admin listener"), "\(first.log)")
            let second = try DNSGateBinary.start(port: Self.dnsPort + 100, arguments: [
                "--listen", "127.0.0.1:\(Self.dnsPort + 100)", "--upstream", knot,
            ], name: "dnsgate-admin-second")
            defer { second.stop() }
            #expect(second.log.contains("the default admin address is taken"), "\(second.log)")
            let third = try runCommand(DNSGateBinary.path, [
                "serve", "--listen", "127.0.0.1:\(Self.dnsPort + 101)", "--upstream", knot, "--admin-listen", "127.0.0.1:9153",
            ])
            #expect(third.status != 0)
            #expect(third.error.contains("cannot listen on admin address 127.0.0.1:9153"), "\(third.error)")
        }
    }
}
