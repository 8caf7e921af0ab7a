import Foundation
import Testing

extension IntegrationSuite {
    /// DNSSEC validation against a private signed hierarchy (``SignedHierarchy``): every verdict compared with
    /// unbound's and Knot Resolver's given the same anchor and upstream, and what dnsgate adds around them.
    @Suite struct DNSSECTests {
        static let port = 15435
        static let adminPort = 15436
        let hierarchy: SignedHierarchy

        init() throws {
            self.hierarchy = try SignedHierarchy.shared.get()
        }

        /// One query, what all three validators must answer, and the Extended DNS Error dnsgate gives when bogus.
        struct Case: Sendable, CustomStringConvertible {
            let name: String
            let type: String
            let status: String
            let secure: Bool
            var ede: Int? = nil
            var description: String { "\(self.name) \(self.type)" }
        }

        static let cases: [Case] = [
            // Secure: every algorithm, NSEC and NSEC3 denial, wildcards, an empty non-terminal, chains.
            Case(name: "www.ecdsa.test", type: "A", status: "NOERROR", secure: true),
            Case(name: "www.rsa.test", type: "A", status: "NOERROR", secure: true),
            Case(name: "www.rsasha512.test", type: "A", status: "NOERROR", secure: true),
            Case(name: "www.p384.test", type: "A", status: "NOERROR", secure: true),
            Case(name: "www.ed.test", type: "A", status: "NOERROR", secure: true),
            Case(name: "nx.ecdsa.test", type: "A", status: "NXDOMAIN", secure: true),
            Case(name: "www.ecdsa.test", type: "AAAA", status: "NOERROR", secure: true),
            Case(name: "x.wild.ecdsa.test", type: "A", status: "NOERROR", secure: true),
            Case(name: "nx.nsec3.test", type: "A", status: "NXDOMAIN", secure: true),
            Case(name: "www.nsec3.test", type: "AAAA", status: "NOERROR", secure: true),
            Case(name: "x.wild.nsec3.test", type: "A", status: "NOERROR", secure: true),
            Case(name: "b.nsec3.test", type: "A", status: "NOERROR", secure: true),
            Case(name: "chain.ecdsa.test", type: "A", status: "NOERROR", secure: true),
            Case(name: "www.dname.ecdsa.test", type: "A", status: "NOERROR", secure: true),
            Case(name: "ecdsa.test", type: "DNSKEY", status: "NOERROR", secure: true),
            Case(name: "ecdsa.test", type: "DS", status: "NOERROR", secure: true),
            Case(name: ".", type: "DNSKEY", status: "NOERROR", secure: true),
            Case(name: "test.", type: "SOA", status: "NOERROR", secure: true),
            Case(name: "www.ecdsa.test", type: "TXT", status: "NOERROR", secure: true),
            Case(name: "x.wild.ecdsa.test", type: "AAAA", status: "NOERROR", secure: true),
            Case(name: "x.wild.nsec3.test", type: "AAAA", status: "NOERROR", secure: true),
            Case(name: "a.b.nsec3.test", type: "A", status: "NOERROR", secure: true),
            Case(name: "nx.p384.test", type: "A", status: "NXDOMAIN", secure: true),
            Case(name: "nx.ed.test", type: "A", status: "NXDOMAIN", secure: true),
            Case(name: "nx.rsa.test", type: "A", status: "NXDOMAIN", secure: true),
            // The absence of a DS for an unsigned delegation is itself proven, in an opt-out zone too when the
            // delegation has an NSEC3 of its own.
            Case(name: "insecure.test", type: "DS", status: "NOERROR", secure: true),
            Case(name: "sub.optout.test", type: "DS", status: "NOERROR", secure: true),
            Case(name: "nx.test", type: "A", status: "NXDOMAIN", secure: true),
            // Insecure: opt-out (a delegation below it, a name its span could hide), an unsigned delegation, chains
            // into and out of it, an unknown DS algorithm, NSEC3 iterations over the limit.
            Case(name: "www.sub.optout.test", type: "A", status: "NOERROR", secure: false),
            Case(name: "www.insecure.test", type: "A", status: "NOERROR", secure: false),
            Case(name: "cname.ecdsa.test", type: "A", status: "NOERROR", secure: false),
            Case(name: "back.insecure.test", type: "A", status: "NOERROR", secure: false),
            Case(name: "www.unknownalg.test", type: "A", status: "NOERROR", secure: false),
            Case(name: "nx.iter.test", type: "A", status: "NXDOMAIN", secure: false),
            Case(name: "nx.insecure.test", type: "A", status: "NXDOMAIN", secure: false),
            Case(name: "nx.optout.test", type: "A", status: "NXDOMAIN", secure: false),
            // Bogus, each for its own reason.
            Case(name: "www.expired.test", type: "A", status: "SERVFAIL", secure: false, ede: 7),
            Case(name: "www.future.test", type: "A", status: "SERVFAIL", secure: false, ede: 8),
            Case(name: "www.tampered.test", type: "A", status: "SERVFAIL", secure: false, ede: 6),
            Case(name: "www.nosig.test", type: "A", status: "SERVFAIL", secure: false, ede: 10),
            Case(name: "www.wrongds.test", type: "A", status: "SERVFAIL", secure: false, ede: 9),
            Case(name: "www.badkey.test", type: "A", status: "SERVFAIL", secure: false, ede: 9),
            Case(name: "nx.nsecstrip.test", type: "A", status: "SERVFAIL", secure: false, ede: 12),
            Case(name: "x.w.wildstrip.test", type: "A", status: "SERVFAIL", secure: false, ede: 12),
        ]

        private func start(_ extraYAML: String = "", queryLog: String? = nil) throws -> Daemon {
            let config = NSTemporaryDirectory() + "dnsgate-dnssec-\(getpid())-\(UUID().uuidString).yaml"
            try """
                dnssec:
                  validate: true
                  trust_anchors: [\(self.hierarchy.anchorPath)]
                \(extraYAML)
                """.write(toFile: config, atomically: true, encoding: .utf8)
            return try DNSGateBinary.start(port: Self.port, arguments: [
                "--config", config, "--listen", "127.0.0.1:\(Self.port)", "--upstream", self.hierarchy.upstreamURL,
                "--admin-listen", "127.0.0.1:\(Self.adminPort)",
            ] + (queryLog.map { ["--query-log", $0] } ?? []), name: "dnsgate-dnssec")
        }

        @Test func everyVerdictAgreesWithUnboundAndKnotResolver() throws {
            let dnsgate = try self.start()
            defer { dnsgate.stop() }
            for item in Self.cases {
                let ours = try Kdig.query(item.name, item.type, port: Self.port, options: ["+edns"])
                let unbound = try Kdig.query(item.name, item.type, port: SignedHierarchy.unboundPort)
                let kresd = try Kdig.query(item.name, item.type, port: SignedHierarchy.kresdPort)
                for (who, reply) in [("dnsgate", ours), ("unbound", unbound), ("kresd", kresd)] {
                    #expect(reply?.status == item.status, "\(who): \(item) \(reply?.raw ?? "no reply")")
                    #expect(reply?.flags.contains("ad") == item.secure, "\(who): \(item) \(reply?.raw ?? "")")
                }
                if let ede = item.ede {
                    #expect(ours?.raw.contains("EDE: \(ede) ") == true, "\(item) \(ours?.raw ?? "")")
                }
                if item.status == "NOERROR", item.type == "A" {
                    // The same records; TTLs differ by the second the caches held them.
                    func records(_ reply: Kdig.Reply?) -> [String] {
                        (reply?.answers ?? []).map { $0.split(separator: " ").enumerated().filter { $0.offset != 1 }
                            .map(\.element).joined(separator: " ") }
                    }
                    #expect(records(ours) == records(unbound), "\(item)")
                }
            }
        }

        /// RRSIGs only for DO clients, AD only for clients that set DO or AD (RFC 6840 §5.8), and CD=1 gets the data
        /// of a bogus zone unvalidated, which never reaches a CD=0 client.
        @Test func signaturesADAndCheckingDisabled() throws {
            let dnsgate = try self.start()
            defer { dnsgate.stop() }
            let withDO = try Kdig.query("www.ed.test", port: Self.port, options: ["+dnssec"])
            #expect(withDO?.flags.contains("ad") == true)
            #expect(withDO?.answers.contains { $0.contains(" RRSIG A ") } == true, "\(withDO?.raw ?? "")")
            let plain = try Kdig.query("www.ed.test", port: Self.port, options: ["+noadflag"])
            #expect(plain?.answers.count == 1 && plain?.answers.first?.hasSuffix(" IN A 192.0.2.1") == true,
                    "\(plain?.raw ?? "")")
            #expect(plain?.flags.contains("ad") == false)
            let askedAD = try Kdig.query("www.ed.test", port: Self.port, options: ["+adflag"])
            #expect(askedAD?.flags.contains("ad") == true)

            let unchecked = try Kdig.query("www.expired.test", port: Self.port, options: ["+cdflag"])
            #expect(unchecked?.status == "NOERROR")
            #expect(unchecked?.flags.contains("cd") == true && unchecked?.flags.contains("ad") == false)
            #expect(unchecked?.answers.first?.hasSuffix("192.0.2.1") == true, "\(unchecked?.raw ?? "")")
            #expect(try Kdig.query("www.expired.test", port: Self.port)?.status == "SERVFAIL")
        }

        /// A negative trust anchor turns a bogus zone insecure; a conditionally forwarded private zone the signed
        /// root denies is answered, not bogus.
        @Test func negativeTrustAnchorsAndPrivateZones() throws {
            let dnsgate = try self.start("""
                  negative_trust_anchors: [expired.test]
                forward: ["corp. udp://127.0.0.1:\(SignedHierarchy.knotPort)"]
                """)
            defer { dnsgate.stop() }
            let expired = try Kdig.query("www.expired.test", port: Self.port)
            #expect(expired?.status == "NOERROR" && expired?.flags.contains("ad") == false, "\(expired?.raw ?? "")")
            let corp = try Kdig.query("www.corp", port: Self.port)
            #expect(corp?.answers.count == 1 && corp?.answers.first?.hasSuffix(" IN A 192.0.2.10") == true,
                    "\(corp?.raw ?? "")")
            #expect(try Kdig.query("www.tampered.test", port: Self.port)?.status == "SERVFAIL")
        }

        /// Verdicts are counted by state and reason, a bogus verdict is kept (the second query is answered from it
        /// without validating again), and the query log says how each answer was judged.
        @Test func verdictsAreCountedKeptAndLogged() throws {
            let directory = NSTemporaryDirectory() + "dnsgate-dnssec-log-\(getpid())"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let dnsgate = try self.start(queryLog: directory + "/queries.log")
            defer { dnsgate.stop() }
            #expect(try Kdig.query("www.ecdsa.test", port: Self.port)?.status == "NOERROR")
            #expect(try Kdig.query("www.insecure.test", port: Self.port)?.status == "NOERROR")
            for _ in 0..<2 { #expect(try Kdig.query("www.tampered.test", port: Self.port)?.status == "SERVFAIL") }
            let metrics = try runCommand("/usr/bin/curl", ["-s", "http://127.0.0.1:\(Self.adminPort)/metrics"]).output
            #expect(metrics.contains("dnsgate_dnssec_answers_total{state=\"secure\"} 1"), "\(metrics)")
            #expect(metrics.contains("dnsgate_dnssec_answers_total{state=\"insecure\"} 1"))
            #expect(metrics.contains("dnsgate_dnssec_answers_total{state=\"bogus\"} 2"))
            #expect(metrics.contains("dnsgate_dnssec_bogus_total{reason=\"bogus\"} 2"))
            // Two answers validated (the bogus one once): the second bogus answer came from the kept verdict.
            #expect(metrics.contains("dnsgate_dnssec_validation_duration_seconds_count 3"), "\(metrics)")
            #expect(waitUntil(timeout: 5) {
                let log = (try? String(contentsOfFile: directory + "/queries.log", encoding: .utf8)) ?? ""
                return log.contains("\"dnssec\":\"secure\"") && log.contains("\"dnssec\":\"insecure\"")
                    && log.contains("\"dnssec\":\"bogus\"")
            })
        }
    }
}
