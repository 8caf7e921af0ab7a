import Foundation
import Testing

extension IntegrationSuite {
    /// dnsgate forwarding over DNS-over-HTTPS (RFC 8484) to dnsdist's DoH frontend in front of knot.
    @Suite struct DoHUpstreamTests {
        static let port = 15394
        let upstream: TestUpstream

        init() throws {
            self.upstream = try TestUpstream.shared.get()
        }

        private func start(_ upstreams: [String], admin: String = "off") throws -> Daemon {
            var arguments = ["--listen", "127.0.0.1:\(Self.port)", "--ca-file", self.upstream.caPath,
                             "--admin-listen", admin]
            for url in upstreams { arguments += ["--upstream", url] }
            return try DNSGateBinary.start(port: Self.port, arguments: arguments)
        }

        @Test(arguments: ["", " method=get"])
        func answersEqualKnotsOverPOSTAndGET(option: String) throws {
            let dnsgate = try self.start([self.upstream.dohURL + option])
            defer { dnsgate.stop() }
            for (label, type) in [("h000001", "A"), ("multi", "A"), ("c1", "A"), ("v6", "AAAA"), ("nothing-here", "A")] {
                let name = label + "." + TestUpstream.zone
                let direct = try #require(try Kdig.query(name, type, port: TestUpstream.knotPort))
                let proxied = try #require(try Kdig.query(name, type, port: Self.port, options: ["+tcp"]))
                #expect(proxied.status == direct.status, "\(name) \(type)")
                #expect(proxied.answers == direct.answers, "\(name) \(type)")
            }
            // A 3 kB answer arrives whole over the HTTP/2 stream.
            let big = try Kdig.query("big." + TestUpstream.zone, "TXT", port: Self.port, options: ["+tcp"])
            #expect(big?.answers.count == 1)
        }

        @Test func manyQueriesShareOneConnection() throws {
            let dnsgate = try self.start([self.upstream.dohURL], admin: "127.0.0.1:15395")
            defer { dnsgate.stop() }
            let names = (0..<300).map { String(format: "h%06d.%@ A", 1500 + $0, TestUpstream.zone) }
            let file = NSTemporaryDirectory() + "dnsgate-doh-names-\(getpid()).txt"
            try names.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
            let result = try runCommand("/usr/bin/dnsperf", ["-s", "127.0.0.1", "-p", "\(Self.port)", "-d", file,
                                                             "-n", "1", "-c", "4", "-q", "50", "-t", "5"])
            #expect(result.output.contains("Queries completed:    300 (100.00%)"), "\(result.output)")
            #expect(result.output.contains("NOERROR 300"), "\(result.output)")
            let metrics = try runCommand("/usr/bin/curl", ["-s", "http://127.0.0.1:15395/metrics"]).output
            let handshakes = metrics.split(separator: "\n").first { $0.hasPrefix("dnsgate_upstream_tls_handshakes_total{") }
            #expect(handshakes?.hasSuffix(" 1") == true, "one TLS connection carried them all: \(handshakes ?? "")")
        }

        @Test func aWrongCertificateNameMeansNothingIsSent() throws {
            let dnsgate = try self.start(["https://127.0.0.1:\(TestUpstream.dohPort)/dns-query#wrong.test"])
            defer { dnsgate.stop() }
            let before = try self.upstream.knotQueryCount()
            for index in 0..<3 {
                let reply = try Kdig.query(String(format: "h%06d.", 400 + index) + TestUpstream.zone, port: Self.port,
                                           timeout: 8)
                #expect(reply?.status == "SERVFAIL")
            }
            #expect(try self.upstream.knotQueryCount() == before)
        }

        @Test func aWrongPathIsAnHTTPErrorAndTheNextUpstreamAnswers() throws {
            let wrongPath = "https://127.0.0.1:\(TestUpstream.dohPort)/nowhere#\(TestUpstream.tlsName)"
            let dnsgate = try self.start([wrongPath, self.upstream.dohURL])
            defer { dnsgate.stop() }
            let reply = try Kdig.query("h000410." + TestUpstream.zone, port: Self.port, timeout: 8)
            #expect(reply?.answers.count == 1, "\(dnsgate.log)")
        }
    }
}
