import Foundation
import Testing

extension IntegrationSuite {
    /// dnsgate's DoH and DoT clients against other servers than dnsdist: Knot Resolver's DoH server (kind doh2) and
    /// unbound's DoT server, both with the test's throwaway certificate and both forwarding only to the test's
    /// knot on loopback.
    @Suite struct InteropServersTests {
        static let port = 15399
        static let kresdDoHPort = 15397
        static let unboundTLSPort = 15398
        let upstream: TestUpstream

        init() throws {
            self.upstream = try TestUpstream.shared.get()
        }

        private var certificate: String { self.upstream.directory + "/upstream.pem" }
        private var key: String { self.upstream.directory + "/upstream.key" }

        private func startKresd() throws -> Daemon {
            let directory = self.upstream.directory + "/kresd"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try """
                net.ipv6 = false
                net.tls('\(self.certificate)', '\(self.key)')
                net.listen('127.0.0.1', \(Self.kresdDoHPort), { kind = 'doh2' })
                trust_anchors.remove('.')
                cache.open(10 * MB, 'lmdb://\(directory)/cache')
                policy.add(policy.all(policy.STUB('127.0.0.1@\(TestUpstream.knotPort)')))
                """.write(toFile: directory + "/kresd.conf", atomically: true, encoding: .utf8)
            let kresd = try Daemon(name: "kresd", executable: "/usr/sbin/kresd",
                                   arguments: ["--noninteractive", "-c", directory + "/kresd.conf", directory],
                                   logPath: directory + "/kresd.log")
            guard try waitUntil(timeout: 20, {
                try Kdig.query("h000001." + TestUpstream.zone, port: Self.kresdDoHPort,
                               options: ["+https=/dns-query", "+tls-ca=\(self.upstream.caPath)",
                                         "+tls-hostname=\(TestUpstream.tlsName)"], timeout: 1)?.status == "NOERROR"
            }) else {
                kresd.stop()
                throw SetupError("kresd did not answer over DoH: \(kresd.log)")
            }
            return kresd
        }

        private func startUnbound() throws -> Daemon {
            let directory = self.upstream.directory + "/unbound"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try """
                server:
                    interface: 127.0.0.1@\(Self.unboundTLSPort)
                    tls-port: \(Self.unboundTLSPort)
                    tls-service-key: "\(self.key)"
                    tls-service-pem: "\(self.certificate)"
                    do-ip6: no
                    access-control: 127.0.0.0/8 allow
                    chroot: ""
                    username: ""
                    directory: "\(directory)"
                    pidfile: "\(directory)/unbound.pid"
                    do-daemonize: no
                    use-syslog: no
                    logfile: ""
                    module-config: "iterator"
                    do-not-query-localhost: no
                forward-zone:
                    name: "."
                    forward-addr: 127.0.0.1@\(TestUpstream.knotPort)
                """.write(toFile: directory + "/unbound.conf", atomically: true, encoding: .utf8)
            let unbound = try Daemon(name: "unbound", executable: "/usr/sbin/unbound",
                                     arguments: ["-d", "-c", directory + "/unbound.conf"],
                                     logPath: directory + "/unbound.log")
            guard try waitUntil(timeout: 20, {
                try Kdig.query("h000001." + TestUpstream.zone, port: Self.unboundTLSPort,
                               options: ["+tls-ca=\(self.upstream.caPath)", "+tls-hostname=\(TestUpstream.tlsName)"],
                               timeout: 1)?.status == "NOERROR"
            }) else {
                unbound.stop()
                throw SetupError("unbound did not answer over TLS: \(unbound.log)")
            }
            return unbound
        }

        private func expectAnswersEqualKnots(through url: String) throws {
            let dnsgate = try DNSGateBinary.start(port: Self.port, arguments: [
                "--listen", "127.0.0.1:\(Self.port)", "--upstream", url, "--ca-file", self.upstream.caPath,
                "--admin-listen", "off",
            ])
            defer { dnsgate.stop() }
            for (label, type) in [("h000901", "A"), ("multi", "A"), ("c1", "A"), ("v6", "AAAA"), ("nothing-here", "A")] {
                let name = label + "." + TestUpstream.zone
                let direct = try #require(try Kdig.query(name, type, port: TestUpstream.knotPort))
                let proxied = try #require(try Kdig.query(name, type, port: Self.port, timeout: 8), "\(dnsgate.log)")
                #expect(proxied.status == direct.status, "\(url) \(name) \(type)")
                // The resolvers cache, so TTLs may have counted down: compare the records without them.
                let withoutTTL = { (answers: [String]) in
                    Set(answers.map { $0.split(separator: " ").enumerated().filter { $0.offset != 1 }.map(\.element) })
                }
                #expect(withoutTTL(proxied.answers) == withoutTTL(direct.answers), "\(url) \(name) \(type)")
            }
        }

        @Test func dohAgainstKnotResolver() throws {
            let kresd = try self.startKresd()
            defer { kresd.stop() }
            try self.expectAnswersEqualKnots(
                through: "https://127.0.0.1:\(Self.kresdDoHPort)/dns-query#\(TestUpstream.tlsName)")
            try self.expectAnswersEqualKnots(
                through: "https://127.0.0.1:\(Self.kresdDoHPort)/dns-query#\(TestUpstream.tlsName) method=get")
        }

        /// kresd resets concurrent POST streams: dnsgate asks each lost query again, then switches the upstream to
        /// GET, so the default configuration gets every answer.
        @Test func dohAgainstKnotResolverUnderConcurrentLoad() throws {
            let kresd = try self.startKresd()
            defer { kresd.stop() }
            let dnsgate = try DNSGateBinary.start(port: Self.port, arguments: [
                "--listen", "127.0.0.1:\(Self.port)", "--ca-file", self.upstream.caPath, "--admin-listen", "127.0.0.1:15396",
                "--upstream", "https://127.0.0.1:\(Self.kresdDoHPort)/dns-query#\(TestUpstream.tlsName)",
            ])
            defer { dnsgate.stop() }
            let file = NSTemporaryDirectory() + "dnsgate-kresd-names-\(getpid()).txt"
            try (0..<200).map { String(format: "h%06d.%@ A", 1700 + $0, TestUpstream.zone) }.joined(separator: "\n")
                .write(toFile: file, atomically: true, encoding: .utf8)
            let result = try runCommand("/usr/bin/dnsperf", ["-s", "127.0.0.1", "-p", "\(Self.port)", "-d", file,
                                                             "-n", "1", "-c", "4", "-q", "50", "-t", "5"])
            #expect(result.output.contains("Queries completed:    200 (100.00%)"), "\(result.output)")
            #expect(result.output.contains("NOERROR 200"), "\(result.output)\n\(dnsgate.log)")
            let state = try runCommand("/usr/bin/curl", ["-s", "http://127.0.0.1:15396/api/v1/upstreams"]).output
            #expect(state.contains("method=get"), "\(state)")
            #expect(state.contains("\"state\":\"up\""), "never marked down: \(state)")
        }

        @Test func dotAgainstUnbound() throws {
            let unbound = try self.startUnbound()
            defer { unbound.stop() }
            try self.expectAnswersEqualKnots(through: "tls://127.0.0.1:\(Self.unboundTLSPort)#\(TestUpstream.tlsName)")
        }
    }
}
