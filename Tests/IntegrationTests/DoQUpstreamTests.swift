import Foundation
import Testing

extension IntegrationSuite {
    /// dnsgate forwarding over DNS over QUIC (RFC 9250) to an aioquic server (scripts/doq-server.py, an independent
    /// QUIC stack) in front of knot; the server counts its connections, resumed handshakes and queries.
    @Suite struct DoQUpstreamTests {
        static let port = 15407
        static let serverPort = 15408
        static let adminPort = 15411
        let upstream: TestUpstream
        let directory: String

        private static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().path

        init() throws {
            self.upstream = try TestUpstream.shared.get()
            self.directory = NSTemporaryDirectory() + "dnsgate-doq-upstream-\(getpid())-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
        }

        private var statusFile: String { self.directory + "/status.json" }

        /// Starts the aioquic DoQ server with the upstream's certificate, forwarding to knot.
        private func startServer() throws -> Daemon {
            try? FileManager.default.removeItem(atPath: self.statusFile)
            let server = try Daemon(name: "doq-server", executable: Self.root + "/.build/test-python/bin/python3",
                                    arguments: [Self.root + "/scripts/doq-server.py", "\(Self.serverPort)",
                                                self.upstream.directory + "/upstream.pem",
                                                self.upstream.directory + "/upstream.key",
                                                "\(TestUpstream.knotPort)", self.statusFile],
                                    logPath: self.directory + "/server.log")
            guard waitUntil(timeout: 15, { server.log.contains("serving") }) else {
                server.stop()
                throw SetupError("doq-server.py did not start: \(server.log)")
            }
            return server
        }

        /// What the server has counted: connections, resumed, queries, nonzero_ids.
        private func serverStatus() throws -> [String: Int] {
            let data = try Data(contentsOf: URL(fileURLWithPath: self.statusFile))
            return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Int])
        }

        private func start(_ upstream: String, environment: [String: String] = [:]) throws -> Daemon {
            try DNSGateBinary.start(port: Self.port, arguments: [
                "--listen", "127.0.0.1:\(Self.port)", "--upstream", upstream, "--ca-file", self.upstream.caPath,
                "--admin-listen", "127.0.0.1:\(Self.adminPort)",
            ], environment: environment)
        }

        private var url: String { "quic://127.0.0.1:\(Self.serverPort)#\(TestUpstream.tlsName)" }

        /// Answers equal knot's; 300 queries, 50 at a time, all go over one QUIC connection, each with ID 0.
        @Test func answersMatchKnotAndManyQueriesShareOneConnection() throws {
            let server = try self.startServer()
            defer { server.stop() }
            let dnsgate = try self.start(self.url)
            defer { dnsgate.stop() }
            for (label, type) in [("h000001", "A"), ("multi", "A"), ("v6", "AAAA"), ("nothing-here", "A")] {
                let name = label + "." + TestUpstream.zone
                let direct = try #require(try Kdig.query(name, type, port: TestUpstream.knotPort))
                let proxied = try #require(try Kdig.query(name, type, port: Self.port))
                #expect(proxied.status == direct.status, "\(name) \(type)")
                #expect(proxied.answers == direct.answers, "\(name) \(type)")
            }
            let names = (0..<300).map { String(format: "h%06d.%@ A", 1700 + $0, TestUpstream.zone) }
            let file = self.directory + "/names.txt"
            try names.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
            let result = try runCommand("/usr/bin/dnsperf", ["-s", "127.0.0.1", "-p", "\(Self.port)", "-d", file,
                                                             "-n", "1", "-c", "5", "-q", "50", "-t", "5"])
            #expect(result.output.contains("Queries completed:    300 (100.00%)"), "\(result.output)")
            #expect(result.output.contains("NOERROR 300"), "\(result.output)")
            let status = try self.serverStatus()
            #expect(status["connections"] == 1, "\(status)")
            #expect((status["queries"] ?? 0) >= 304, "\(status)")
            #expect(status["nonzero_ids"] == 0, "\(status)")
        }

        /// A certificate that does not carry the configured name fails the handshake: no query reaches the server.
        @Test func aWrongCertificateNameMeansNothingIsSent() throws {
            let server = try self.startServer()
            defer { server.stop() }
            let dnsgate = try self.start("quic://127.0.0.1:\(Self.serverPort)#wrong.test")
            defer { dnsgate.stop() }
            for index in 0..<3 {
                let reply = try Kdig.query(String(format: "h%06d.", 500 + index) + TestUpstream.zone, port: Self.port,
                                           timeout: 8)
                #expect(reply?.status == "SERVFAIL")
            }
            let status = try self.serverStatus()
            #expect(status["queries"] == 0, "\(status)")
            #expect((status["connections"] ?? 0) >= 1, "the handshake was tried: \(status)")
            #expect(dnsgate.log.contains("TLS failed"), "\(dnsgate.log)")
        }

        /// The server going away is noticed (its port answers ICMP), clients hear SERVFAIL within the query timeout,
        /// and once it is back every query is answered on a new connection.
        @Test func theServerRestartingLosesNoLaterQueries() throws {
            var server = try self.startServer()
            defer { server.stop() }
            let dnsgate = try self.start(self.url)
            defer { dnsgate.stop() }
            #expect(try Kdig.query("h000600." + TestUpstream.zone, port: Self.port)?.status == "NOERROR")
            server.stop(signal: SIGKILL)
            let started = Date()
            let down = try Kdig.query("h000601." + TestUpstream.zone, port: Self.port, timeout: 8)
            #expect(down?.status == "SERVFAIL")
            #expect(Date().timeIntervalSince(started) < 7)
            server = try self.startServer()
            for index in 602..<632 {
                let reply = try Kdig.query(String(format: "h%06d.", index) + TestUpstream.zone, port: Self.port,
                                           timeout: 6)
                #expect(reply?.status == "NOERROR", "query \(index) after the restart")
            }
        }

        /// A second connection (the first closed when idle) resumes the TLS session of the first.
        @Test func aSecondConnectionResumesTheFirstsSession() throws {
            let server = try self.startServer()
            defer { server.stop() }
            let dnsgate = try self.start(self.url, environment: ["DNSGATE_UPSTREAM_IDLE_TIMEOUT": "1s"])
            defer { dnsgate.stop() }
            #expect(try Kdig.query("h000700." + TestUpstream.zone, port: Self.port)?.status == "NOERROR")
            #expect(waitUntil(timeout: 10) { (try? self.serverStatus()["open"]) == 0 }, "the idle connection closed")
            #expect(try Kdig.query("h000701." + TestUpstream.zone, port: Self.port)?.status == "NOERROR")
            let status = try self.serverStatus()
            #expect(status["connections"] == 2, "\(status)")
            #expect(status["resumed"] == 1, "\(status)")
        }
    }
}
