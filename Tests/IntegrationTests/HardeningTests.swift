import Foundation
import Testing

extension IntegrationSuite {
    /// Defects found by trying dnsgate as a new user would, each in the set-up where it was seen: Kubernetes' service
    /// link variables, the rate limiter under uncached names, and a DoT terminator that refuses ALPN `dot`.
    @Suite struct HardeningTests {
        static let port = 15411
        static let relayPort = 15412
        let upstream: TestUpstream

        init() throws {
            self.upstream = try TestUpstream.shared.get()
        }

        private func start(_ arguments: [String] = [], upstream: String? = nil,
                           environment: [String: String] = [:]) throws -> Daemon {
            try DNSGateBinary.start(port: Self.port, arguments: [
                "--listen", "127.0.0.1:\(Self.port)", "--upstream", upstream ?? self.upstream.dotURL,
                "--ca-file", self.upstream.caPath,
            ] + arguments, environment: environment)
        }

        /// A pod started after a Service named `dnsgate` exists gets `DNSGATE_SERVICE_HOST` and friends: dnsgate
        /// serves anyway, says nothing of them, and warns once of a variable that looks like a misspelt key.
        @Test func kubernetesServiceLinksDoNotStopStartUp() throws {
            let dnsgate = try self.start(["--admin-listen", "off"], environment: [
                "DNSGATE_SERVICE_HOST": "10.96.0.10", "DNSGATE_SERVICE_PORT": "53", "DNSGATE_SERVICE_PORT_DNS": "53",
                "DNSGATE_PORT": "udp://10.96.0.10:53", "DNSGATE_PORT_53_UDP": "udp://10.96.0.10:53",
                "DNSGATE_PORT_53_UDP_PROTO": "udp", "DNSGATE_PORT_53_UDP_PORT": "53",
                "DNSGATE_PORT_53_UDP_ADDR": "10.96.0.10", "DNSGATE_CAHCE_MAX_SIZE": "1MiB",
            ])
            defer { dnsgate.stop() }
            #expect(try Kdig.query("h000001." + TestUpstream.zone, port: Self.port)?.status == "NOERROR")
            let log = dnsgate.log
            let warnings = log.split(separator: "\n").filter { $0.contains("ignoring unknown environment variables") }
            #expect(warnings.count == 1, "\(log)")
            #expect(warnings.first?.contains("DNSGATE_CAHCE_MAX_SIZE (did you mean 'DNSGATE_CACHE_MAX_SIZE'?)") == true)
            #expect(!log.contains("DNSGATE_SERVICE_HOST") && !log.contains("DNSGATE_PORT"), "\(log)")
        }

        /// One client at 100 queries a second for 4 s against `qps: 20`: cached and uncached names are admitted
        /// alike, about qps × seconds + burst (each query takes one token, whichever way it is answered).
        @Test func uncachedQueriesTakeOneTokenLikeCachedOnes() throws {
            let directory = NSTemporaryDirectory() + "dnsgate-ratelimit-\(getpid())"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            try "rate_limit:\n  qps: 20\n  ipv4_prefix: 32\n  action: refuse\n"
                .write(toFile: directory + "/dnsgate.yaml", atomically: true, encoding: .utf8)
            let dnsgate = try self.start(["--config", directory + "/dnsgate.yaml", "--admin-listen", "off"])
            defer { dnsgate.stop() }
            let run = UUID().uuidString.prefix(8).lowercased()
            let unique = (0..<600).map { "rl-\(run)-\($0).\(TestUpstream.zone) A" }
            try unique.joined(separator: "\n").write(toFile: directory + "/unique.txt", atomically: true, encoding: .utf8)
            try "h000001.\(TestUpstream.zone) A\n".write(toFile: directory + "/one.txt", atomically: true,
                                                          encoding: .utf8)
            // Warm the one name's cache entry from another client.
            #expect(try Kdig.query("h000001." + TestUpstream.zone, port: Self.port, options: ["-b", "127.0.0.4"])?
                .status == "NOERROR")
            let admitted = { (file: String, source: String) throws -> Int in
                let output = try runCommand("/usr/bin/dnsperf", [
                    "-s", "127.0.0.1", "-p", "\(Self.port)", "-a", source, "-d", directory + "/" + file,
                    "-Q", "100", "-l", "4", "-t", "2",
                ]).output
                let completed = Self.number(after: "Queries completed:", in: output)
                let refused = Self.number(after: "REFUSED ", in: output) ?? 0
                #expect(completed ?? 0 >= 380, "\(output)")
                return (completed ?? 0) - refused
            }
            let cached = try admitted("one.txt", "127.0.0.2")
            let uncached = try admitted("unique.txt", "127.0.0.3")
            let expected = 20.0 * 4 + 20
            #expect(abs(Double(cached) - expected) <= expected * 0.1, "cached: \(cached) admitted")
            #expect(abs(Double(uncached) - expected) <= expected * 0.1, "uncached: \(uncached) admitted")
            #expect(abs(Double(cached - uncached)) <= Double(max(cached, uncached)) * 0.1, "\(cached) vs \(uncached)")
        }

        /// The number that follows `label` in dnsperf's report.
        private static func number(after label: String, in output: String) -> Int? {
            guard let range = output.range(of: label) else { return nil }
            return Int(output[range.upperBound...].drop { $0 == " " }.prefix { $0.isNumber })
        }

        /// `openssl s_server -alpn h2` (a terminator set up for HTTP/2 only) in front of a relay to knot over TCP:
        /// it answers ALPN `dot` with no_application_protocol. dnsgate connects again without ALPN, says so once in
        /// its log and in the admin API, and answers.
        @Test func aDoTUpstreamThatRefusesALPNDotIsAskedWithoutALPN() throws {
            let relay = try Daemon(name: "alpn-h2-terminator", executable: "/usr/bin/python3", arguments: [
                "-c", Self.terminatorRelay, self.upstream.directory + "/upstream.pem",
                self.upstream.directory + "/upstream.key", "\(Self.relayPort)", "\(TestUpstream.knotPort)",
            ], logPath: NSTemporaryDirectory() + "alpn-relay-\(getpid()).log")
            defer { relay.stop() }
            #expect(waitUntil(timeout: 10) { (try? LoopbackSocket(tcp: true, port: Self.relayPort)) != nil })
            let dnsgate = try self.start(["--admin-listen", "127.0.0.1:15413"],
                                         upstream: "tls://127.0.0.1:\(Self.relayPort)#\(TestUpstream.tlsName)")
            defer { dnsgate.stop() }
            for index in 0..<3 {
                let reply = try Kdig.query(String(format: "h%06d.", 1200 + index) + TestUpstream.zone,
                                           port: Self.port, timeout: 8)
                #expect(reply?.answers.count == 1, "\(dnsgate.log)\n\(relay.log)")
            }
            let warnings = dnsgate.log.split(separator: "\n").filter { $0.contains("refuses ALPN 'dot'") }
            #expect(warnings.count == 1, "\(dnsgate.log)")
            let state = try runCommand("/usr/bin/curl", ["-s", "http://127.0.0.1:15413/api/v1/upstreams"]).output
            #expect(state.contains("alpn=off"), "\(state)")
        }

        /// Runs `openssl s_server -quiet -alpn h2` and relays the DNS messages it decrypts to knot over TCP, one at a
        /// time, writing each answer back through it. Arguments: certificate, key, TLS port, knot's port.
        static let terminatorRelay = #"""
            import ctypes, signal, socket, struct, subprocess, sys
            cert, key, port, upstream = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
            # s_server dies with this relay, however the relay ends (PR_SET_PDEATHSIG).
            server = subprocess.Popen(["openssl", "s_server", "-quiet", "-alpn", "h2", "-cert", cert, "-key", key,
                                       "-accept", "127.0.0.1:" + port], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      preexec_fn=lambda: ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL))
            signal.signal(signal.SIGTERM, lambda *_: (server.kill(), sys.exit(0)))
            pending = b""
            while True:
                data = server.stdout.read1(65536)
                if not data:
                    break
                pending += data
                while len(pending) >= 2 and len(pending) >= 2 + struct.unpack(">H", pending[:2])[0]:
                    size = struct.unpack(">H", pending[:2])[0]
                    frame, pending = pending[:2 + size], pending[2 + size:]
                    with socket.create_connection(("127.0.0.1", upstream), timeout=5) as knot:
                        knot.sendall(frame)
                        answer = b""
                        while len(answer) < 2 or len(answer) < 2 + struct.unpack(">H", answer[:2])[0]:
                            chunk = knot.recv(65536)
                            if not chunk:
                                break
                            answer += chunk
                    server.stdin.write(answer)
                    server.stdin.flush()
            """#
    }
}
