import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension IntegrationSuite {
    /// SIGHUP and `POST /api/v1/reload` under load: nothing in flight is lost, the new upstream gets the traffic, a
    /// newly excluded fake-IP name resolves normally, a new listen address opens, and an invalid file changes
    /// nothing.
    @Suite struct ReloadTests {
        static let dnsPort = 15383
        static let addedPort = 15388
        static let adminPort = 15384
        static let slowPort = 15386

        static func config(upstream: String, exclude: [String], extraListen: Bool, level: String) -> String {
            """
            listen: ["127.0.0.1:\(dnsPort)"\(extraListen ? ", \"127.0.0.1:\(addedPort)\"" : "")]
            upstreams: [\(upstream)]
            admin:
              listen: 127.0.0.1:\(adminPort)
            fakeip:
              enabled: true
              range: 198.19.0.0/16
              database: \(NSTemporaryDirectory())dnsgate-reload-\(getpid()).sqlite
              exclude: [\(exclude.joined(separator: ", "))]
            log:
              level: \(level)
            """
        }

        @Test func aReloadUnderLoadLosesNothingAndChangesBehaviour() throws {
            let slow = try SlowUpstream(port: Self.slowPort, delay: .zero)
            defer { slow.stop() }
            let file = NSTemporaryDirectory() + "dnsgate-reload-\(getpid()).yaml"
            try? FileManager.default.removeItem(atPath: NSTemporaryDirectory() + "dnsgate-reload-\(getpid()).sqlite")
            let knot = "tcp://127.0.0.1:\(TestUpstream.knotPort)"
            _ = try TestUpstream.shared.get()
            try Self.config(upstream: knot, exclude: [], extraListen: false, level: "info")
                .write(toFile: file, atomically: true, encoding: .utf8)
            let dnsgate = try DNSGateBinary.start(port: Self.dnsPort, arguments: ["--config", file],
                                                  name: "dnsgate-reload")
            defer { dnsgate.stop() }
            func address(_ name: String, port: Int = Self.dnsPort) throws -> String? {
                try Kdig.query(name + "." + TestUpstream.zone, port: port)?.answers.first?.split(separator: " ").last
                    .map(String.init)
            }
            #expect(try address("h000123")?.hasPrefix("198.19.") == true, "a fake address before the reload")

            // Load: 2000 names at 1000 queries per second, the reload in the middle.
            let names = NSTemporaryDirectory() + "dnsgate-reload-names-\(getpid()).txt"
            try (0..<2000).map { String(format: "h%06d.%@ A", $0, TestUpstream.zone) }.joined(separator: "\n")
                .write(toFile: names, atomically: true, encoding: .utf8)
            let load = try Daemon(name: "dnsperf", executable: "/usr/bin/dnsperf", arguments: [
                "-s", "127.0.0.1", "-p", "\(Self.dnsPort)", "-d", names, "-n", "1", "-Q", "1000", "-t", "5", "-l", "10",
            ], logPath: NSTemporaryDirectory() + "dnsgate-reload-load-\(getpid()).log")
            usleep(800_000)
            try Self.config(upstream: "tcp://127.0.0.1:\(Self.slowPort)", exclude: ["h000123.test.example"],
                            extraListen: true, level: "debug")
                .write(toFile: file, atomically: true, encoding: .utf8)
            kill(dnsgate.pid, SIGHUP)
            #expect(try waitUntil(timeout: 10) { !load.isRunning }, "dnsperf ends by itself")
            let report = load.log
            #expect(report.contains("Queries sent:         2000"), "\(report)")
            #expect(report.contains("Queries lost:         0 ("), "\(report)")
            #expect(dnsgate.log.contains("configuration reloaded"), "\(dnsgate.log)")
            #expect(dnsgate.log.contains("these settings change only at the next start") == false)

            // The new upstream answers (it puts 192.0.2.53 in every answer; TXT passes the fake-IP stage), the
            // excluded name gets its real address (cached from before), and the added address serves.
            func fromUpstream(_ name: String, port: Int = Self.dnsPort) throws -> Bool {
                try Kdig.query(name + "." + TestUpstream.zone, "TXT", port: port)?.answers.first?
                    .hasSuffix("192.0.2.53") == true
            }
            #expect(try fromUpstream("fresh1"))
            #expect(try address("h000123") == "198.18.0.123", "resolved normally, no longer a fake address")
            #expect(try address("h000124")?.hasPrefix("198.19.") == true, "other names are still fake")
            #expect(try fromUpstream("fresh2", port: Self.addedPort))
            let settings = try runCommand("/usr/bin/curl", ["-s", "http://127.0.0.1:\(Self.adminPort)/api/v1/config"])
            #expect(settings.output.contains("\"log.level\":\"debug\""), "\(settings.output)")

            // A reload that leaves the upstreams alone keeps them, with their counters and connections.
            func upstreamQueries() throws -> Int {
                let text = try runCommand("/usr/bin/curl", ["-s", "http://127.0.0.1:\(Self.adminPort)/api/v1/upstreams"])
                return text.output.firstMatch(of: /"queries":(\d+)/).flatMap { Int($0.1) } ?? -1
            }
            let queriesBefore = try upstreamQueries()
            #expect(queriesBefore > 0)
            try Self.config(upstream: "tcp://127.0.0.1:\(Self.slowPort)", exclude: ["h000123.test.example"],
                            extraListen: true, level: "info")
                .write(toFile: file, atomically: true, encoding: .utf8)
            let levelOnly = try runCommand("/usr/bin/curl", ["-s", "-X", "POST",
                                                             "http://127.0.0.1:\(Self.adminPort)/api/v1/reload"])
            #expect(levelOnly.output == "{\"result\":\"applied: log.level\"}", "\(levelOnly.output)")
            #expect(try upstreamQueries() == queriesBefore, "the same upstream, its counters not reset")

            // An invalid file is rejected with one line and changes nothing.
            try "listen: [127.0.0.1:\(Self.dnsPort)]\nupstreams: [ftp://nowhere]\n"
                .write(toFile: file, atomically: true, encoding: .utf8)
            let rejected = try runCommand("/usr/bin/curl", ["-s", "-X", "POST", "-w", "\n%{http_code}",
                                                            "http://127.0.0.1:\(Self.adminPort)/api/v1/reload"])
            #expect(rejected.output.hasSuffix("\n422") && rejected.output.contains("upstreams"), "\(rejected.output)")
            #expect(dnsgate.log.contains("configuration reload rejected"))
            #expect(try fromUpstream("fresh3"))
            #expect(try fromUpstream("fresh4", port: Self.addedPort))
            #expect(dnsgate.isRunning)
        }

        /// A reload whose second new address cannot be bound is rejected, and the first, opened meanwhile, is
        /// closed again: nothing of the rejected configuration stays.
        @Test func aRejectedReloadClosesTheListenersItOpened() throws {
            let upstream = try TestUpstream.shared.get()
            let opened = 15389, taken = 15390
            let blocker = try Daemon(name: "port-blocker", executable: "/usr/bin/python3", arguments: ["-c", """
                import socket, time
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.bind(("127.0.0.1", \(taken)))
                print("bound", flush=True)
                time.sleep(120)
                """], logPath: NSTemporaryDirectory() + "port-blocker-\(getpid()).log")
            defer { blocker.stop() }
            #expect(waitUntil(timeout: 10) { blocker.log.contains("bound") })
            let file = NSTemporaryDirectory() + "dnsgate-reload-rollback-\(getpid()).yaml"
            let listen = { (ports: [Int]) in
                "listen: [" + ports.map { "\"127.0.0.1:\($0)\"" }.joined(separator: ", ") + "]\n"
                    + "admin:\n  listen: 127.0.0.1:\(Self.adminPort)\n"
            }
            try listen([Self.dnsPort]).write(toFile: file, atomically: true, encoding: .utf8)
            let dnsgate = try DNSGateBinary.start(port: Self.dnsPort, arguments: [
                "--config", file, "--upstream", "tcp://127.0.0.1:\(TestUpstream.knotPort)",
            ])
            defer { dnsgate.stop() }
            _ = upstream
            try listen([Self.dnsPort, opened, taken]).write(toFile: file, atomically: true, encoding: .utf8)
            let rejected = try runCommand("/usr/bin/curl", ["-s", "-X", "POST", "-w", "\n%{http_code}",
                                                            "http://127.0.0.1:\(Self.adminPort)/api/v1/reload"])
            #expect(rejected.output.hasSuffix("\n422") && rejected.output.contains("\(taken)"), "\(rejected.output)")
            #expect(try Kdig.query("h000001." + TestUpstream.zone, port: opened, timeout: 1) == nil,
                    "the address opened for the rejected reload is closed again")
            #expect((try? LoopbackSocket(tcp: true, port: opened)) == nil)
            #expect(try Kdig.query("h000001." + TestUpstream.zone, port: Self.dnsPort)?.status == "NOERROR")
            // The address is free: the same reload without the taken one succeeds.
            try listen([Self.dnsPort, opened]).write(toFile: file, atomically: true, encoding: .utf8)
            let applied = try runCommand("/usr/bin/curl", ["-s", "-X", "POST",
                                                           "http://127.0.0.1:\(Self.adminPort)/api/v1/reload"])
            #expect(applied.output.contains("listen"), "\(applied.output)")
            #expect(try Kdig.query("h000001." + TestUpstream.zone, port: opened)?.status == "NOERROR")
        }
    }
}
