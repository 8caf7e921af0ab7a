import Foundation
import Testing

extension IntegrationSuite {
    /// RFC 8310 profiles and SPKI pins against the test DoT and DoH terminator: knot's own query counter shows
    /// whether anything was sent.
    @Suite struct UpstreamAuthenticationTests {
        static let port = 15396
        let upstream: TestUpstream

        init() throws {
            self.upstream = try TestUpstream.shared.get()
        }

        /// Starts dnsgate with `upstream`, asks three names and returns their statuses and how many queries knot saw.
        private func ask(through upstream: String, caFile: Bool = true) throws -> (statuses: [String], knotQueries: Int) {
            var arguments = ["--listen", "127.0.0.1:\(Self.port)", "--upstream", upstream, "--admin-listen", "off"]
            if caFile { arguments += ["--ca-file", self.upstream.caPath] }
            let dnsgate = try DNSGateBinary.start(port: Self.port, arguments: arguments)
            defer { dnsgate.stop() }
            let before = try self.upstream.knotQueryCount()
            let statuses = try (0..<3).map { index in
                try Kdig.query(String(format: "h%06d.", 600 + index) + TestUpstream.zone, port: Self.port,
                               timeout: 8)?.status ?? "no answer"
            }
            return (statuses, try self.upstream.knotQueryCount() - before)
        }

        @Test func theRightPinAnswersOverDoTAndDoH() throws {
            let pin = try self.upstream.publicKeyPin()
            #expect(pin.count == 44, "\(pin)")
            for url in [self.upstream.dotURL, self.upstream.dohURL] {
                let result = try self.ask(through: url + " pin_sha256=" + pin)
                #expect(result.statuses == ["NOERROR", "NOERROR", "NOERROR"], "\(url)")
            }
        }

        @Test func aWrongPinMeansNothingIsSentEvenWithAValidChain() throws {
            let wrong = Data(repeating: 7, count: 32).base64EncodedString()
            for url in [self.upstream.dotURL, self.upstream.dohURL] {
                let result = try self.ask(through: url + " pin_sha256=" + wrong)
                #expect(result.statuses == ["SERVFAIL", "SERVFAIL", "SERVFAIL"], "\(url)")
                #expect(result.knotQueries == 0, "\(url)")
            }
        }

        @Test func pinsAloneAuthenticateAServerWhoseChainIsNotTrusted() throws {
            let pin = try self.upstream.publicKeyPin()
            let url = "tls://127.0.0.1:\(TestUpstream.tlsPort)#not-the-name.test pin_sha256=\(pin) ca=off"
            #expect(try self.ask(through: url, caFile: false).statuses == ["NOERROR", "NOERROR", "NOERROR"])
        }

        @Test func strictIsTheDefaultAndOpportunisticIsAnExplicitChoice() throws {
            let url = "tls://127.0.0.1:\(TestUpstream.tlsPort)#not-the-name.test"
            let strict = try self.ask(through: url, caFile: false)
            #expect(strict.statuses == ["SERVFAIL", "SERVFAIL", "SERVFAIL"])
            #expect(strict.knotQueries == 0)
            let opportunistic = try self.ask(through: url + " profile=opportunistic", caFile: false)
            #expect(opportunistic.statuses == ["NOERROR", "NOERROR", "NOERROR"])
        }
    }
}
