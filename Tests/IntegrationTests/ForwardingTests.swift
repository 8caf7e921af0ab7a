import Foundation
import Testing

extension IntegrationSuite {
    /// dnsgate between kdig and a real DoT upstream (dnsdist in front of knot), all on loopback.
    @Suite struct ForwardingTests {
        static let port = 15373
        let upstream: TestUpstream

        init() throws {
            self.upstream = try TestUpstream.shared.get()
        }

        private func startDNSGate(upstreams: [String]? = nil, extra: [String] = []) throws -> Daemon {
            var arguments = ["--listen", "127.0.0.1:\(Self.port)", "--ca-file", self.upstream.caPath]
            for url in upstreams ?? [self.upstream.dotURL] { arguments += ["--upstream", url] }
            return try DNSGateBinary.start(port: Self.port, arguments: arguments + extra)
        }

        @Test(arguments: [("h000001", "A"), ("multi", "A"), ("c1", "A"), ("v6", "AAAA"), ("dual", "AAAA"),
                          ("nothing-here", "A"), ("v6", "MX"), ("x.wild", "A")])
        func answersEqualKnotsOverUDPAndTCP(label: String, type: String) throws {
            let dnsgate = try self.startDNSGate(extra: ["--listen", "[::1]:\(Self.port)"])
            defer { dnsgate.stop() }
            let name = label + "." + TestUpstream.zone
            let direct = try #require(try Kdig.query(name, type, port: TestUpstream.knotPort))
            for (server, options) in [("127.0.0.1", []), ("127.0.0.1", ["+tcp"]), ("::1", []), ("::1", ["+tcp"])] {
                let proxied = try #require(try Kdig.query(name, type, server: server, port: Self.port, options: options),
                                           "no answer from \(server) \(options)")
                #expect(proxied.status == direct.status)
                #expect(proxied.answers == direct.answers)
                #expect(proxied.authority == direct.authority)
            }
        }

        @Test func clientSpellingAndIDSurviveTheUpstream() throws {
            let dnsgate = try self.startDNSGate()
            defer { dnsgate.stop() }
            // kdig lowercases names, so this client speaks raw DNS.
            let query = WireQueries.query("H000002.Test.EXAMPLE", id: 0xA5A5)
            let socket = try LoopbackSocket(tcp: false, port: Self.port)
            socket.send(query)
            let answer = try #require(socket.receive())
            #expect(answer[0] == 0xA5 && answer[1] == 0xA5)
            #expect(answer[3] & 0x0F == 0)
            // The question section comes back exactly as the client spelled it.
            #expect(Array(answer[12..<query.count]) == Array(query[12...]))
            #expect(Array(answer.suffix(4)) == [198, 18, 0, 2])
        }

        @Test func bigTXTTruncatesOverUDPAndArrivesWholeOverTCP() throws {
            let dnsgate = try self.startDNSGate()
            defer { dnsgate.stop() }
            let name = "big." + TestUpstream.zone
            let udp = try #require(try Kdig.query(name, "TXT", port: Self.port, options: ["+ignore", "+bufsize=1232"]))
            #expect(udp.flags.contains("tc"))
            #expect(udp.answers.isEmpty)
            let tcp = try #require(try Kdig.query(name, "TXT", port: Self.port, options: ["+tcp"]))
            #expect(!tcp.flags.contains("tc"))
            #expect(tcp.answers.count == 1)
            // 12 strings of 250 letters each, a to l.
            for letter in "abcdefghijkl" {
                #expect(tcp.answers.first?.contains(String(repeating: letter, count: 250)) == true)
            }
            let direct = try #require(try Kdig.query(name, "TXT", port: TestUpstream.knotPort, options: ["+tcp"]))
            #expect(tcp.answers == direct.answers)
        }

        @Test func restartingTheDoTTerminatorLosesNoLaterQueries() throws {
            let dnsgate = try self.startDNSGate()
            defer { dnsgate.stop() }
            #expect(try Kdig.query("h000010." + TestUpstream.zone, port: Self.port)?.status == "NOERROR")
            self.upstream.killTerminator()
            // While the upstream is down, clients hear SERVFAIL within the query timeout: nothing hangs.
            let started = Date()
            let down = try Kdig.query("h000011." + TestUpstream.zone, port: Self.port, timeout: 8)
            #expect(down?.status == "SERVFAIL")
            #expect(Date().timeIntervalSince(started) < 7)
            try self.upstream.startTerminator()
            for index in 12..<62 {
                let name = String(format: "h%06d.", index) + TestUpstream.zone
                let reply = try Kdig.query(name, port: Self.port, options: index % 2 == 0 ? [] : ["+tcp"], timeout: 6)
                #expect(reply?.status == "NOERROR", "query \(index) after the restart")
            }
        }

        @Test func wrongCertificateNameMeansNoQueryIsSentUpstream() throws {
            let dnsgate = try self.startDNSGate(upstreams: ["tls://127.0.0.1:\(TestUpstream.tlsPort)#wrong.test"])
            defer { dnsgate.stop() }
            let before = try self.upstream.knotQueryCount()
            for index in 0..<5 {
                let reply = try Kdig.query(String(format: "h%06d.", 100 + index) + TestUpstream.zone, port: Self.port,
                                           timeout: 8)
                #expect(reply?.status == "SERVFAIL")
            }
            #expect(try self.upstream.knotQueryCount() == before)
            #expect(dnsgate.log.contains("upstream connection failed"))
        }

        @Test func failsOverToTheNextUpstream() throws {
            // Nothing listens on the first: connections are refused and the query moves on.
            let dnsgate = try self.startDNSGate(upstreams: ["tls://127.0.0.1:15379#upstream.test", self.upstream.dotURL])
            defer { dnsgate.stop() }
            for index in 0..<10 {
                let reply = try Kdig.query(String(format: "h%06d.", 200 + index) + TestUpstream.zone, port: Self.port,
                                           options: ["+tcp"], timeout: 5)
                #expect(reply?.status == "NOERROR")
            }
        }

        @Test func plainTCPAndUDPUpstreamsWork() throws {
            let dnsgate = try self.startDNSGate(upstreams: ["udp://127.0.0.1:\(TestUpstream.knotPort)"])
            defer { dnsgate.stop() }
            #expect(try Kdig.query("h000300." + TestUpstream.zone, port: Self.port)?.answers.count == 1)
            // Truncated over the UDP upstream: dnsgate asks again over TCP and the TCP client gets it whole.
            let big = try Kdig.query("big." + TestUpstream.zone, "TXT", port: Self.port, options: ["+tcp"])
            #expect(big?.answers.count == 1)
            let tcpOnly = try self.startDNSGateOnOtherPort(upstream: "tcp://127.0.0.1:\(TestUpstream.knotPort)")
            defer { tcpOnly.stop() }
            #expect(try Kdig.query("h000301." + TestUpstream.zone, port: Self.port + 1)?.answers.count == 1)
        }

        @Test func conditionalForwardingSendsADomainToItsOwnUpstream() throws {
            let config = NSTemporaryDirectory() + "dnsgate-forward-\(getpid()).yaml"
            try "forward:\n  - \(TestUpstream.zone) udp://127.0.0.1:\(TestUpstream.knotPort)\n"
                .write(toFile: config, atomically: true, encoding: .utf8)
            // The default upstream refuses connections: only the forwarded domain can be answered.
            let dnsgate = try self.startDNSGate(upstreams: ["tcp://127.0.0.1:15379"], extra: ["--config", config])
            defer { dnsgate.stop() }
            let forwarded = try Kdig.query("h000500." + TestUpstream.zone, port: Self.port, timeout: 8)
            #expect(forwarded?.answers.count == 1, "\(dnsgate.log)")
            #expect(try Kdig.query("elsewhere.example.net", port: Self.port, timeout: 8)?.status == "SERVFAIL")
        }

        @Test func upstreamHostNamesAreResolvedThroughTheBootstrapServers() throws {
            // The system resolver cannot know this name: only the bootstrap server (knot) can.
            let upstream = "tls://dot-by-name.\(TestUpstream.zone.dropLast()):\(TestUpstream.tlsPort)#\(TestUpstream.tlsName)"
            let dnsgate = try self.startDNSGate(upstreams: [upstream],
                                                extra: ["--bootstrap", "udp://127.0.0.1:\(TestUpstream.knotPort)"])
            defer { dnsgate.stop() }
            for index in 0..<6 {
                let reply = try Kdig.query(String(format: "h%06d.", 700 + index) + TestUpstream.zone, port: Self.port,
                                           options: index % 2 == 0 ? [] : ["+tcp"], timeout: 8)
                #expect(reply?.answers.count == 1, "\(dnsgate.log)")
            }
            let unknown = try self.startDNSGateOnOtherPort(
                upstream: "tls://nowhere-by-name.\(TestUpstream.zone.dropLast())#\(TestUpstream.tlsName)",
                extra: ["--bootstrap", "udp://127.0.0.1:\(TestUpstream.knotPort)"])
            defer { unknown.stop() }
            #expect(try Kdig.query("h000710." + TestUpstream.zone, port: Self.port + 1, timeout: 8)?.status == "SERVFAIL")
        }

        private func startDNSGateOnOtherPort(upstream: String, extra: [String] = []) throws -> Daemon {
            try DNSGateBinary.start(port: Self.port + 1, arguments: ["--listen", "127.0.0.1:\(Self.port + 1)",
                                                                     "--upstream", upstream] + extra, name: "dnsgate-tcp")
        }
    }
}
