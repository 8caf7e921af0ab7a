import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension IntegrationSuite {
    @Suite struct LifecycleTests {
        static let port = 15375

        @Test func sigtermStopsGracefullyWithExitZero() throws {
            let upstream = try TestUpstream.shared.get()
            let dnsgate = try DNSGateBinary.start(port: Self.port, arguments: [
                "--listen", "127.0.0.1:\(Self.port)", "--upstream", upstream.dotURL, "--ca-file", upstream.caPath,
            ])
            #expect(try Kdig.query("h000400." + TestUpstream.zone, port: Self.port)?.status == "NOERROR")
            let started = Date()
            let status = dnsgate.stop(signal: SIGTERM, timeout: 10)
            #expect(status == 0)
            #expect(Date().timeIntervalSince(started) < 6)
            #expect(dnsgate.log.contains("dnsgate stopped"))
            // Query names are not logged at the default level.
            #expect(!dnsgate.log.contains("h000400"))
        }

        @Test func sigtermLetsQueriesInFlightFinish() throws {
            let slow = try SlowUpstream(port: 15377, delay: .seconds(2))
            defer { slow.stop() }
            let dnsgate = try DNSGateBinary.start(port: Self.port, arguments: [
                "--listen", "127.0.0.1:\(Self.port)", "--upstream", "tcp://127.0.0.1:\(slow.port)",
            ])
            // Two clients wait for the slow upstream; SIGTERM arrives while their queries are in flight.
            let clients = try ["", "+tcp"].map { option in
                try Daemon(name: "kdig", executable: "/usr/bin/kdig",
                           arguments: ["@127.0.0.1", "-p", "\(Self.port)", "+timeout=8", "+retry=0", "slow.test", "A"]
                               + (option.isEmpty ? [] : [option]),
                           logPath: NSTemporaryDirectory() + "kdig-\(getpid())-\(option.isEmpty ? "udp" : "tcp").log")
            }
            usleep(500_000)
            let status = dnsgate.stop(signal: SIGTERM, timeout: 10)
            #expect(status == 0)
            for client in clients {
                client.stop(signal: 0, timeout: 8)
                let reply = try #require(Kdig.parse(client.log))
                #expect(reply.status == "NOERROR")
                #expect(reply.answers == ["slow.test. 60 IN A 192.0.2.53"])
            }
        }

        @Test func checkConfigNamesTheBadKeyAndValue() throws {
            let result = try runCommand(DNSGateBinary.path, ["check-config", "--listen", "not-an-address"])
            #expect(result.status != 0)
            #expect(result.error.contains("listen") && result.error.contains("not-an-address"))
            let good = try runCommand(DNSGateBinary.path, ["check-config", "--upstream", "tcp://127.0.0.1:53",
                                                           "--listen", "127.0.0.1:5353", "--listen", "[::1]:5353"])
            #expect(good.status == 0)
            #expect(good.output.contains("configuration OK"))
            #expect(good.output.contains("listen: 127.0.0.1:5353, [::1]:5353"), "\(good.output)")
        }

        /// A misspelt key is an error naming the file, the line and the key meant, for check-config and at start-up.
        @Test func aMisspeltKeyStopsCheckConfigAndStartup() throws {
            let file = NSTemporaryDirectory() + "dnsgate-typo-\(getpid()).yaml"
            try "listen: [127.0.0.1:\(Self.port)]\ncahce:\n  max_size: 64MiB\n"
                .write(toFile: file, atomically: true, encoding: .utf8)
            let expected = "\(file):3: unknown key 'cahce.max_size'; did you mean 'cache.max_size'?"
            let checked = try runCommand(DNSGateBinary.path, ["check-config", "--config", file])
            #expect(checked.status != 0 && !checked.output.contains("configuration OK"))
            #expect(checked.error.contains(expected), "\(checked.error)")
            let served = try runCommand(DNSGateBinary.path, ["serve", "--config", file, "--upstream",
                                                             "tcp://127.0.0.1:\(TestUpstream.knotPort)"])
            #expect(served.status != 0)
            #expect(served.error.contains(expected), "\(served.error)")
        }

        @Test func aTakenPortIsAClearStartupError() throws {
            let first = try DNSGateBinary.start(port: Self.port, arguments: [
                "--listen", "127.0.0.1:\(Self.port)", "--upstream", "tcp://127.0.0.1:\(TestUpstream.knotPort)",
            ])
            defer { first.stop() }
            let second = try runCommand(DNSGateBinary.path, [
                "serve", "--listen", "127.0.0.1:\(Self.port)", "--upstream", "tcp://127.0.0.1:\(TestUpstream.knotPort)",
            ])
            #expect(second.status != 0)
            #expect(second.error.contains("cannot listen on tcp 127.0.0.1:\(Self.port)"), "\(second.error)")
        }

        @Test func versionPrints() throws {
            let result = try runCommand(DNSGateBinary.path, ["version"])
            #expect(result.status == 0)
            #expect(result.output.hasPrefix("dnsgate "))
        }
    }
}
