import Foundation
import Testing

extension IntegrationSuite {
    /// Access control, rate limits, ANY, local records and blocklists in the running binary, queried by kdig from
    /// two loopback addresses (127.0.0.1 and 127.0.0.2) in front of the test's knot.
    @Suite struct EdgePolicyTests {
        static let port = 15401
        let upstream: TestUpstream

        init() throws {
            self.upstream = try TestUpstream.shared.get()
        }

        /// Starts dnsgate with `yaml` (where `$DIR` is a fresh directory holding `files`).
        private func start(_ yaml: String, files: [String: String] = [:], arguments: [String] = []) throws
            -> (Daemon, String)
        {
            let directory = NSTemporaryDirectory() + "dnsgate-edge-\(getpid())-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            for (name, contents) in files {
                try contents.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
            }
            try yaml.replacingOccurrences(of: "$DIR", with: directory)
                .write(toFile: directory + "/dnsgate.yaml", atomically: true, encoding: .utf8)
            let daemon = try DNSGateBinary.start(port: Self.port, arguments: [
                "--config", directory + "/dnsgate.yaml", "--listen", "127.0.0.1:\(Self.port)",
                "--upstream", self.upstream.dotURL, "--ca-file", self.upstream.caPath, "--admin-listen", "off",
            ] + arguments)
            return (daemon, directory)
        }

        private func query(_ name: String, _ type: String = "A", from source: String = "127.0.0.1",
                           options: [String] = []) throws -> Kdig.Reply? {
            try Kdig.query(name, type, port: Self.port, options: ["-b", source] + options, timeout: 1)
        }

        @Test func deniedClientsAreRefusedOrIgnored() throws {
            let (dnsgate, directory) = try self.start("acl:\n  allow: [127.0.0.1/32]\n")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            #expect(try self.query("h000001." + TestUpstream.zone)?.status == "NOERROR")
            let refused = try #require(try self.query("h000001." + TestUpstream.zone, from: "127.0.0.2",
                                                      options: ["+edns"]))
            #expect(refused.status == "REFUSED")
            #expect(refused.raw.contains("EDE: 18"))
            #expect(try self.query("h000001." + TestUpstream.zone, from: "127.0.0.2", options: ["+tcp"])?.status
                == "REFUSED")

            dnsgate.stop()
            let (silent, silentDirectory) = try self.start("""
                acl:
                  deny: [127.0.0.2]
                  refused_action: drop
                """)
            defer { silent.stop(); try? FileManager.default.removeItem(atPath: silentDirectory) }
            #expect(try self.query("h000001." + TestUpstream.zone, from: "127.0.0.2") == nil)
            #expect(try self.query("h000001." + TestUpstream.zone)?.status == "NOERROR")
        }

        @Test func aListenerCanHaveAccessListsOfItsOwn() throws {
            let (dnsgate, directory) = try self.start("log:\n  level: info\n",
                                                      arguments: ["--listen", "127.0.0.1:15406 allow=127.0.0.1/32"])
            defer { dnsgate.stop(); try? FileManager.default.removeItem(atPath: directory) }
            let name = "h000001." + TestUpstream.zone
            #expect(try self.query(name, from: "127.0.0.2")?.status == "NOERROR")
            let own = { (source: String, options: [String]) in
                try Kdig.query(name, port: 15406, options: ["-b", source] + options, timeout: 1)?.status
            }
            for options in [[], ["+tcp"]] {
                #expect(try own("127.0.0.1", options) == "NOERROR")
                #expect(try own("127.0.0.2", options) == "REFUSED")
            }
        }

        @Test func aClientOverItsRateIsTruncatedWhileAnotherIsNot() throws {
            let (dnsgate, directory) = try self.start("""
                rate_limit:
                  qps: 2
                  burst: 3
                  ipv4_prefix: 32
                """)
            defer { dnsgate.stop(); try? FileManager.default.removeItem(atPath: directory) }
            var truncated = 0
            for index in 0..<10 {
                let reply = try self.query(String(format: "h%06d.", index) + TestUpstream.zone, from: "127.0.0.2",
                                           options: ["+ignore"])
                if reply?.flags.contains("tc") == true { truncated += 1 }
            }
            #expect(truncated >= 5)
            let other = try #require(try self.query("h000001." + TestUpstream.zone, options: ["+ignore"]))
            #expect(!other.flags.contains("tc") && other.answers.count == 1)
            // Over TCP the limited client gets REFUSED, not a truncation it could not act on (its bucket refills
            // two tokens a second meanwhile, so a few queries in a row are needed to run it dry again).
            let overTCP = try (0..<6).map { index in
                try self.query(String(format: "h%06d.", 20 + index) + TestUpstream.zone, from: "127.0.0.2",
                               options: ["+tcp"])?.status
            }
            #expect(overTCP.contains("REFUSED"), "\(overTCP)")
            #expect(overTCP.allSatisfy { $0 == "REFUSED" || $0 == "NOERROR" }, "\(overTCP)")
        }

        @Test func aClientAtItsConnectionCapIsTurnedAwayWhileAnotherIsServed() throws {
            let (dnsgate, directory) = try self.start("tcp:\n  max_connections_per_client: 3\n")
            defer { dnsgate.stop(); try? FileManager.default.removeItem(atPath: directory) }
            var idle = try (0..<3).map { _ in try LoopbackSocket(tcp: true, port: Self.port) }
            Thread.sleep(forTimeInterval: 0.2)
            #expect(try self.query("h000001." + TestUpstream.zone, options: ["+tcp"]) == nil)
            #expect(try self.query("h000001." + TestUpstream.zone, from: "127.0.0.2", options: ["+tcp"])?.status
                == "NOERROR")
            idle.removeLast()
            #expect(waitUntil(timeout: 3) {
                (try? self.query("h000001." + TestUpstream.zone, options: ["+tcp"]))??.status == "NOERROR"
            })
            _ = idle
        }

        @Test func theRateLimiterStaysFlatUnderAMillionSpoofedSources() throws {
            guard let flood = SpoofedSources() else {
                FileHandle.standardError.write(Data("spoofed-source test skipped: the kernel refused a raw socket\n".utf8))
                return
            }
            let (dnsgate, directory) = try self.start("""
                rate_limit:
                  qps: 5
                  ipv4_prefix: 32
                """)
            defer { dnsgate.stop(); try? FileManager.default.removeItem(atPath: directory) }
            let query = WireQueries.query("h000001.test.example", id: 7)
            #expect(try self.query("h000001." + TestUpstream.zone)?.status == "NOERROR")
            #expect(flood.send(query, to: UInt16(Self.port), sources: 20_000) > 0)
            Thread.sleep(forTimeInterval: 1)
            let before = try #require(dnsgate.residentKiB)
            #expect(flood.send(query, to: UInt16(Self.port), sources: 1_000_000) > 900_000)
            Thread.sleep(forTimeInterval: 1)
            let after = try #require(dnsgate.residentKiB)
            // The buckets are a fixed table: a million sources may not grow it (what grows is allocator noise).
            #expect(after - before < 8 * 1024, "RSS grew from \(before) KiB to \(after) KiB")
            #expect(try self.query("h000002." + TestUpstream.zone)?.status == "NOERROR")
        }

        @Test func anyGetsTheMinimalAnswer() throws {
            let (dnsgate, directory) = try self.start("log:\n  level: info\n")
            defer { dnsgate.stop(); try? FileManager.default.removeItem(atPath: directory) }
            let reply = try #require(try self.query("multi." + TestUpstream.zone, "ANY"))
            #expect(reply.answers.count == 1)
            #expect(reply.answers.first?.contains("HINFO \"RFC8482\"") == true)
        }

        @Test func localRecordsAreAnsweredWithAuthority() throws {
            let hosts = "# hosts\n192.168.7.40 tv.home.arpa tv\n"
            let (dnsgate, directory) = try self.start("""
                local:
                  hosts_files: ["$DIR/hosts"]
                  records:
                    - "printer.home.arpa A 192.168.7.20"
                    - "www.home.arpa CNAME printer.home.arpa"
                    - "home.arpa MX 10 mail.home.arpa"
                    - "info.home.arpa 60 TXT \\"hello world\\""
                """, files: ["hosts": hosts])
            defer { dnsgate.stop(); try? FileManager.default.removeItem(atPath: directory) }
            #expect(try self.query("tv.home.arpa")?.answers == ["tv.home.arpa. 300 IN A 192.168.7.40"])
            #expect(try self.query("tv")?.answers.count == 1)
            let printer = try #require(try self.query("printer.home.arpa"))
            #expect(printer.flags.contains("aa"))
            #expect(printer.answers == ["printer.home.arpa. 300 IN A 192.168.7.20"])
            #expect(try self.query("www.home.arpa")?.answers.count == 2)
            #expect(try self.query("info.home.arpa", "TXT")?.answers == ["info.home.arpa. 60 IN TXT \"hello world\""])
            let noData = try #require(try self.query("printer.home.arpa", "AAAA"))
            #expect(noData.status == "NOERROR" && noData.answers.isEmpty && noData.flags.contains("aa"))
            #expect(try self.query("40.7.168.192.in-addr.arpa", "PTR")?.answers
                == ["40.7.168.192.in-addr.arpa. 300 IN PTR tv.home.arpa."])
            #expect(try self.query("20.7.168.192.in-addr.arpa", "PTR")?.answers
                == ["20.7.168.192.in-addr.arpa. 300 IN PTR printer.home.arpa."])
        }

        @Test func blocklistsApplyPerClientGroupAndFollowCNAMEs() throws {
            let (dnsgate, directory) = try self.start("""
                blocking:
                  lists:
                    - "ads $DIR/ads.hosts"
                    - "kids $DIR/kids.txt"
                  allowlists:
                    - "ok $DIR/allow.txt"
                  groups:
                    - "children 127.0.0.2/32 ads,kids,ok"
                  default_lists: [ads, ok]
                  answer: nxdomain
                """, files: [
                    "ads.hosts": "0.0.0.0 h000001.test.example\n0.0.0.0 H000002.TEST.EXAMPLE.\nbad line here\n",
                    "kids.txt": "||c3.test.example^\n*.wild.test.example\n||h000003.test.example^\n",
                    "allow.txt": "h000003.test.example\n",
                ])
            defer { dnsgate.stop(); try? FileManager.default.removeItem(atPath: directory) }
            #expect(try self.query("h000001." + TestUpstream.zone)?.status == "NXDOMAIN")
            #expect(dnsgate.log.contains("line=3"))

            let blocked = try #require(try self.query("h000002." + TestUpstream.zone, options: ["+edns"]))
            #expect(blocked.status == "NXDOMAIN")
            #expect(blocked.raw.contains("EDE: 15"))
            // c1 → c2 → c3 → h000000: the children's group blocks c3, so c1 is blocked for them only, cached or not.
            for _ in 0..<2 {
                #expect(try self.query("c1." + TestUpstream.zone, from: "127.0.0.2")?.status == "NXDOMAIN")
                #expect(try self.query("c1." + TestUpstream.zone)?.answers.count == 4)
            }
            #expect(try self.query("x.wild." + TestUpstream.zone, from: "127.0.0.2")?.status == "NXDOMAIN")
            #expect(try self.query("x.wild." + TestUpstream.zone)?.status == "NOERROR")
            // The allowlist wins over the children's `||h000003…^`.
            #expect(try self.query("h000003." + TestUpstream.zone, from: "127.0.0.2")?.answers.count == 1)

            // A reload reads the lists again.
            try "0.0.0.0 h000004.test.example\n".write(toFile: directory + "/ads.hosts", atomically: true,
                                                       encoding: .utf8)
            kill(dnsgate.pid, SIGHUP)
            #expect(waitUntil(timeout: 5) { (try? self.query("h000004." + TestUpstream.zone))??.status == "NXDOMAIN" })
            #expect(try self.query("h000001." + TestUpstream.zone)?.status == "NOERROR")
        }


        @Test func listsFromAURLAreFetchedAndKeptWhenARefreshFails() throws {
            let served = NSTemporaryDirectory() + "dnsgate-lists-\(getpid())-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: served, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: served) }
            try "||h000005.test.example^\n".write(toFile: served + "/list.txt", atomically: true, encoding: .utf8)
            let server = try Daemon(name: "http-lists", executable: "/usr/bin/python3",
                                    arguments: ["-m", "http.server", "15405", "--bind", "127.0.0.1",
                                                "--directory", served],
                                    logPath: served + "/server.log")
            defer { server.stop() }
            #expect(waitUntil(timeout: 10) {
                (try? runCommand("/usr/bin/curl", ["-sf", "http://127.0.0.1:15405/list.txt"]))?.status == 0
            })
            let (dnsgate, directory) = try self.start("""
                blocking:
                  sources: ["http://127.0.0.1:15405/list.txt", "http://127.0.0.1:15405/missing.txt"]
                  refresh_interval: 1s
                """)
            defer { dnsgate.stop(); try? FileManager.default.removeItem(atPath: directory) }
            #expect(waitUntil(timeout: 5) { (try? self.query("h000005." + TestUpstream.zone))??.answers
                == ["h000005.test.example. 60 IN A 0.0.0.0"] })
            #expect(dnsgate.log.contains("HTTP status 404"))
            try "||h000006.test.example^\n".write(toFile: served + "/list.txt", atomically: true, encoding: .utf8)
            #expect(waitUntil(timeout: 5) { (try? self.query("h000006." + TestUpstream.zone))??.answers.first?
                .hasSuffix("0.0.0.0") == true })
            #expect(try self.query("h000005." + TestUpstream.zone)?.answers.first?.hasSuffix("0.0.0.0") == false)
            // The server goes away: the last list stays in force.
            let failures = { dnsgate.log.components(separatedBy: "cannot fetch blocklist; keeping what it had").count }
            let before = failures()
            server.stop()
            // Both sources fail at the next refresh (the missing one failed before, too).
            #expect(waitUntil(timeout: 5) { failures() >= before + 2 })
            #expect(try self.query("h000006." + TestUpstream.zone)?.answers.first?.hasSuffix("0.0.0.0") == true)
        }
    }
}
