import Foundation
import Testing

extension IntegrationSuite {
    /// TLS session resumption against the test terminator (dnsdist, on OpenSSL) over DoT and DoH: a reconnect after
    /// the idle timeout resumes the session the server issued, and pins still hold on the resumed connection.
    @Suite(.serialized) struct TLSResumptionTests {
        static let port = 15408
        static let adminPort = 15409
        let upstream: TestUpstream

        init() throws {
            self.upstream = try TestUpstream.shared.get()
        }

        /// The value of the upstream metric `name` (one upstream configured).
        private func metric(_ name: String) throws -> Int? {
            let text = try runCommand("/usr/bin/curl", ["-s", "http://127.0.0.1:\(Self.adminPort)/metrics"]).output
            let line = text.split(separator: "\n").first { $0.hasPrefix(name + "{") }
            return line.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }.map { Int($0) }
        }

        /// Asks a name, waits for the idle timeout to close the upstream connection, and asks another: the
        /// statuses, the handshakes and how many of them resumed.
        private func reconnect(through upstream: String) throws -> (statuses: [String], handshakes: Int?, resumed: Int?) {
            let config = NSTemporaryDirectory() + "dnsgate-resume-\(getpid()).yaml"
            try "upstream:\n  idle_timeout: 1s\n".write(toFile: config, atomically: true, encoding: .utf8)
            let dnsgate = try DNSGateBinary.start(port: Self.port, arguments: [
                "--config", config, "--listen", "127.0.0.1:\(Self.port)", "--upstream", upstream,
                "--ca-file", self.upstream.caPath, "--admin-listen", "127.0.0.1:\(Self.adminPort)",
            ], name: "dnsgate-resume")
            defer { dnsgate.stop() }
            var statuses: [String] = []
            for index in 0..<2 {
                let name = String(format: "h%06d.", 700 + index) + TestUpstream.zone
                statuses.append(try Kdig.query(name, port: Self.port, timeout: 5)?.status ?? "no answer")
                #expect(try waitUntil(timeout: 10) { try self.metric("dnsgate_upstream_open_connections") == 0 },
                        "the idle connection was closed")
            }
            return (statuses, try self.metric("dnsgate_upstream_tls_handshakes_total"),
                    try self.metric("dnsgate_upstream_tls_resumed_sessions_total"))
        }

        @Test func aReconnectResumesTheSessionOverDoTAndDoH() throws {
            for url in [self.upstream.dotURL, self.upstream.dohURL] {
                let result = try self.reconnect(through: url)
                #expect(result.statuses == ["NOERROR", "NOERROR"], "\(url)")
                #expect(result.handshakes == 2, "\(url)")
                #expect(result.resumed == 1, "\(url)")
            }
        }

        @Test func aResumedConnectionStillHoldsToThePin() throws {
            let pin = try self.upstream.publicKeyPin()
            let result = try self.reconnect(through: self.upstream.dotURL + " pin_sha256=" + pin)
            #expect(result.statuses == ["NOERROR", "NOERROR"])
            #expect(result.resumed == 1)
        }

        @Test func resumeOffMakesEveryReconnectAFullHandshake() throws {
            let result = try self.reconnect(through: self.upstream.dotURL + " resume=off")
            #expect(result.statuses == ["NOERROR", "NOERROR"])
            #expect(result.handshakes == 2)
            #expect(result.resumed == 0)
        }
    }
}
