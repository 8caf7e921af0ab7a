import Foundation
import Testing

extension IntegrationSuite.EncryptedListenerTests {
    /// dnsgate's DNS-over-QUIC listener (RFC 9250) under aioquic, an independent QUIC stack
    /// (scripts/doq-probe.py, run by the Python that scripts/test.sh prepares with aioquic and dnspython).
    static let doqPort = 15404

    private static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// Starts dnsgate with a DoQ listener and this suite's certificate.
    private func startDoQ(environment: [String: String] = [:]) throws -> (Daemon, String) {
        let directory = NSTemporaryDirectory() + "dnsgate-doq-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try self.issue(Self.name, into: directory)
        let daemon = try DNSGateBinary.start(port: Self.doqPort, arguments: [
            "--listen", "quic://127.0.0.1:\(Self.doqPort)",
            "--tls-cert", directory + "/listener.pem", "--tls-key", directory + "/listener.key",
            "--upstream", self.upstream.dotURL, "--ca-file", self.upstream.caPath, "--admin-listen", "off",
        ], environment: environment)
        return (daemon, directory)
    }

    /// Runs one scenario of scripts/doq-probe.py and returns its report.
    private func probe(_ scenario: String, _ count: Int = 1, serverName: String = Self.name) throws -> [String: Any] {
        let python = Self.root + "/.build/test-python/bin/python3"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw SetupError("no \(python) with aioquic: scripts/test.sh prepares it")
        }
        return try runJSONReport(python, [Self.root + "/scripts/doq-probe.py", "\(Self.doqPort)",
                                          self.upstream.caPath, serverName, scenario, "\(count)"])
    }

    /// 50 queries at once on one connection, one stream each, all answered with ID 0 and the length prefix; a
    /// non-zero ID ends the connection with DOQ_PROTOCOL_ERROR; another ALPN fails the handshake; a stream reset
    /// mid-query leaves the connection serving; a second connection resumes the first's TLS session.
    @Test func doqServesManyStreamsAndKeepsTheProtocolsRules() throws {
        let (dnsgate, directory) = try self.startDoQ()
        defer { dnsgate.stop(); try? FileManager.default.removeItem(atPath: directory) }

        let many = try self.probe("queries", 50)
        #expect((many["rcodes"] as? [String: Int]) == ["NOERROR": 50], "\(many)")
        #expect((many["ids"] as? [Int]) == [0], "\(many)")
        #expect(many["framing_ok"] as? Bool == true, "\(many)")

        let nonzero = try self.probe("nonzero-id")
        #expect((nonzero["terminated"] as? [String: Any])?["error_code"] as? Int == 2, "\(nonzero)")
        #expect((nonzero["answer"] as? [String: Any])?["rcode"] as? String == nil, "\(nonzero)")

        let alpn = try self.probe("wrong-alpn")
        #expect(alpn["connected"] as? Bool == false, "\(alpn)")

        let reset = try self.probe("reset")
        #expect((reset["after"] as? [String: Any])?["rcode"] as? String == "NOERROR", "\(reset)")
        #expect(reset["terminated"] is NSNull, "\(reset)")

        let resumption = try self.probe("resumption")
        #expect(resumption["ticket"] as? Bool == true, "\(resumption)")
        #expect(resumption["resumed"] as? Bool == true, "\(resumption)")
        #expect((resumption["second"] as? [String: Any])?["rcode"] as? String == "NOERROR", "\(resumption)")
    }

    /// A renewed certificate (the files replaced, as renewal tools do) is presented to new DoQ connections
    /// without a restart.
    @Test func aRenewedCertificateIsUsedForNewDoQConnections() throws {
        let (dnsgate, directory) = try self.startDoQ()
        defer { dnsgate.stop(); try? FileManager.default.removeItem(atPath: directory) }
        #expect((try self.probe("queries", 1)["rcodes"] as? [String: Int]) == ["NOERROR": 1])
        try self.issue("renewed.test", into: directory)
        #expect(waitUntil(timeout: 10) {
            (try? self.probe("queries", 1, serverName: "renewed.test"))?["rcodes"] as? [String: Int] == ["NOERROR": 1]
        })
        #expect(dnsgate.log.contains("TLS certificate reloaded"))
    }

    /// RFC 9250 §5.5: a connection with nothing open for `tcp.idle_timeout` is closed with DOQ_NO_ERROR.
    @Test func idleDoQConnectionsCloseWithNoError() throws {
        let (dnsgate, directory) = try self.startDoQ(environment: ["DNSGATE_TCP_IDLE_TIMEOUT": "1s"])
        defer { dnsgate.stop(); try? FileManager.default.removeItem(atPath: directory) }
        let idle = try self.probe("idle", 3)
        #expect((idle["answer"] as? [String: Any])?["rcode"] as? String == "NOERROR", "\(idle)")
        #expect((idle["terminated"] as? [String: Any])?["error_code"] as? Int == 0, "\(idle)")
    }

    /// At shutdown an idle DoQ connection is closed at once with DOQ_NO_ERROR, without waiting for the grace period.
    @Test func shutdownClosesIdleDoQConnectionsWithNoError() throws {
        let (dnsgate, directory) = try self.startDoQ()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let client = try Daemon(name: "doq-hold", executable: Self.root + "/.build/test-python/bin/python3",
                                arguments: [Self.root + "/scripts/doq-probe.py", "\(Self.doqPort)",
                                            self.upstream.caPath, Self.name, "hold", "15"],
                                logPath: directory + "/hold.log")
        defer { client.stop() }
        #expect(waitUntil(timeout: 10) { client.log.contains("answered") }, "\(client.log)")
        let started = Date()
        #expect(dnsgate.stop() == 0)
        #expect(Date().timeIntervalSince(started) < 2.5)
        #expect(!dnsgate.log.contains("grace period over"))
        #expect(waitUntil(timeout: 5) { client.log.contains("terminated") }, "\(client.log)")
        let report = client.log.split(separator: "\n").last.flatMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect((report?["terminated"] as? [String: Any])?["error_code"] as? Int == 0, "\(client.log)")
        #expect((report?["waited"] as? Double ?? 99) < 5, "\(client.log)")
    }

    /// Noise (20,000 datagrams, half of them Initial-looking) and 10,000 handshakes begun and abandoned: the
    /// listener answers a real client afterwards, and the process grows by less than 20 MiB (handshakes beyond 64
    /// must first pass a stateless Retry).
    @Test func doqSurvivesNoiseAndAbandonedHandshakes() throws {
        let (dnsgate, directory) = try self.startDoQ()
        defer { dnsgate.stop(); try? FileManager.default.removeItem(atPath: directory) }
        #expect((try self.probe("queries", 1)["rcodes"] as? [String: Int]) == ["NOERROR": 1])
        let before = try #require(dnsgate.residentKiB)
        let noise = try self.probe("garbage", 20_000)
        #expect((noise["after"] as? [String: Any])?["rcode"] as? String == "NOERROR", "\(noise)")
        let abandoned = try self.probe("abandon", 10_000)
        #expect((abandoned["after"] as? [String: Any])?["rcode"] as? String == "NOERROR", "\(abandoned)")
        #expect(dnsgate.isRunning)
        let after = try #require(dnsgate.residentKiB)
        #expect(after - before < 20_000, "RSS \(before) KiB before, \(after) KiB after")
    }
}
