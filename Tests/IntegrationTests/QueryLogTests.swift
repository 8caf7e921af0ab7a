import Foundation
import Testing

extension IntegrationSuite {
    /// The query log under dnsperf load, rotated many times over: every query answered has exactly one whole JSON
    /// line, and no file grows past the size limit.
    @Suite struct QueryLogTests {
        static let port = 15404
        let upstream: TestUpstream

        init() throws {
            self.upstream = try TestUpstream.shared.get()
        }

        @Test func everyQueryHasOneWholeLineAcrossRotations() throws {
            let directory = NSTemporaryDirectory() + "dnsgate-querylog-\(getpid())-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            try "query_log:\n  max_size: 64KiB\n  keep: 100\n".write(toFile: directory + "/dnsgate.yaml", atomically: true,
                                                                    encoding: .utf8)
            let dnsgate = try DNSGateBinary.start(port: Self.port, arguments: [
                "--config", directory + "/dnsgate.yaml", "--query-log", directory + "/queries.log",
                "--listen", "127.0.0.1:\(Self.port)", "--upstream", self.upstream.dotURL,
                "--ca-file", self.upstream.caPath, "--admin-listen", "127.0.0.1:15407",
            ])
            let names = (0..<1000).map { String(format: "h%06d.test.example A\n", $0) }.joined()
            try names.write(toFile: directory + "/names", atomically: true, encoding: .utf8)
            let load = try runCommand("/usr/bin/dnsperf", ["-s", "127.0.0.1", "-p", "\(Self.port)", "-d",
                                                           directory + "/names", "-n", "5", "-c", "4", "-q", "50",
                                                           "-t", "5", "-l", "30"])
            let completed = load.output.split(separator: "\n").first { $0.contains("Queries completed:") }
                .flatMap { $0.split(separator: " ").dropFirst(2).first }.flatMap { Int($0) }
            #expect(completed == 5000, "\(load.output)")
            let metrics = try runCommand("/usr/bin/curl", ["-sf", "http://127.0.0.1:15407/metrics"]).output
            #expect(metrics.contains("dnsgate_query_log_dropped_total 0"), "\(metrics.prefix(300))")
            #expect(dnsgate.stop() == 0)

            let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter {
                $0.hasPrefix("queries.log")
            }
            #expect(files.count > 5, "\(files)")
            var lines = 0
            var sources: [String: Int] = [:]
            for file in files {
                let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + file))
                #expect(data.count <= 64 << 10)
                #expect(data.last == UInt8(ascii: "\n"))
                for line in data.split(separator: UInt8(ascii: "\n")) {
                    let object = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
                    #expect(object?["transport"] as? String == "udp")
                    #expect(object?["type"] as? String == "A")
                    #expect((object?["name"] as? String)?.hasSuffix(".test.example.") == true)
                    #expect(object?["latency_us"] is Int)
                    let source = object?["source"] as? String ?? "?"
                    if source == "upstream" {
                        #expect((object?["upstream"] as? String)?.contains("127.0.0.1:\(TestUpstream.tlsPort)") == true)
                    } else {
                        #expect(object?["upstream"] is NSNull)
                    }
                    sources[source, default: 0] += 1
                    lines += 1
                }
            }
            #expect(lines == completed)
            #expect(sources["upstream", default: 0] >= 1000 && sources["cache", default: 0] >= 3000, "\(sources)")
        }
    }
}
