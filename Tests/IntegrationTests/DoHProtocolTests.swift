import Foundation
import Testing

extension IntegrationSuite.EncryptedListenerTests {
    /// The DoH listener's HTTP/2 under nghttp2's own tools and under a client that breaks the rules
    /// (scripts/http2-abuse.py, raw frames over TLS).
    private static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// Runs one attack of scripts/http2-abuse.py and returns its report.
    private func abuse(_ attack: String, count: Int) throws -> [String: Any] {
        try runJSONReport("/usr/bin/python3", [Self.root + "/scripts/http2-abuse.py", "\(Self.dohPort)",
                                               self.upstream.caPath, Self.name, attack, "\(count)"])
    }

    @Test func nghttp2ClientsFindNoProtocolError() throws {
        let (dnsgate, directory) = try self.start()
        defer { dnsgate.stop(); try? FileManager.default.removeItem(atPath: directory) }
        let query = WireQueries.query("h000001.test.example", id: 0)
        let encoded = Data(query).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        let url = "https://127.0.0.1:\(Self.dohPort)/dns-query?dns=" + encoded
        // nghttp -v prints every frame both ways; a protocol error would show as GOAWAY or RST_STREAM.
        let session = try runCommand("/usr/bin/nghttp", ["-v", "-n", "--timeout=5", url])
        #expect(session.status == 0, "\(session.output) \(session.error)")
        #expect(session.output.contains(":status: 200"), "\(session.output)")
        #expect(session.output.contains("recv SETTINGS frame"))
        #expect(!session.output.contains("recv GOAWAY") && !session.output.contains("recv RST_STREAM"), "\(session.output)")
        // h2load: 4 connections, 10 streams each, GET and POST.
        let load = try runCommand("/usr/bin/h2load", ["-n", "2000", "-c", "4", "-m", "10", "-t", "1", url])
        #expect(load.output.contains("2000 succeeded, 0 failed, 0 errored"), "\(load.output)")
        try Data(query).write(to: URL(fileURLWithPath: directory + "/query"))
        let posts = try runCommand("/usr/bin/h2load", [
            "-n", "500", "-c", "2", "-m", "10", "-t", "1", "-d", directory + "/query",
            "-H", "content-type: application/dns-message", "https://127.0.0.1:\(Self.dohPort)/dns-query",
        ])
        #expect(posts.output.contains("500 succeeded, 0 failed, 0 errored"), "\(posts.output)")
        #expect(posts.output.contains("500 2xx"), "\(posts.output)")
    }

    /// RFC 9113 §5.1.2: streams beyond the advertised limit (100) are refused with REFUSED_STREAM and the
    /// connection goes on; SETTINGS and PING floods and the "rapid reset" (CVE-2023-44487) end the connection, and
    /// none of it makes the process grow.
    @Test func streamsBeyondTheLimitAreRefusedAndFloodsAreCutOff() throws {
        let (dnsgate, directory) = try self.start()
        defer { dnsgate.stop(); try? FileManager.default.removeItem(atPath: directory) }
        #expect(try self.kdig("h000001." + TestUpstream.zone, over: "+https")?.status == "NOERROR")
        let before = try #require(dnsgate.residentKiB)

        let streams = try self.abuse("streams", count: 150)
        let refused = (streams["rst_codes"] as? [String: Int])?["7"] ?? 0
        let answered = (streams["statuses"] as? [String: Int])?["200"] ?? 0
        #expect(refused >= 1 && refused + answered >= 150, "\(streams)")
        #expect(answered >= 100, "\(streams)")
        #expect(streams["closed"] as? Bool == false && streams["answered_after"] as? Int == 1, "\(streams)")

        for attack in ["ping-flood", "settings-flood"] {
            let flood = try self.abuse(attack, count: 50_000)
            #expect(flood["closed"] as? Bool == true, "\(attack): \(flood)")
            // nghttp2 stops acknowledging at 1,000 queued acknowledgements.
            let acks = (flood["frames"] as? [String: Int])?[attack == "ping-flood" ? "PING" : "SETTINGS"] ?? 0
            #expect(acks < 5_000, "\(attack): \(flood)")
        }
        let reset = try self.abuse("rapid-reset", count: 5_000)
        #expect(reset["closed"] as? Bool == true, "\(reset)")
        #expect((reset["goaway_codes"] as? [Int])?.isEmpty == false, "\(reset)")

        #expect(try self.kdig("h000002." + TestUpstream.zone, over: "+https")?.status == "NOERROR")
        let after = try #require(dnsgate.residentKiB)
        #expect(after - before < 20_000, "RSS \(before) KiB before the attacks, \(after) KiB after")
    }
}
