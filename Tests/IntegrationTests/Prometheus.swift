import Foundation

/// A real Prometheus server on loopback, scraping one target every second, and its HTTP query API.
final class Prometheus: Sendable {
    static let port = 15385
    private let daemon: Daemon
    let directory: String

    /// Starts Prometheus scraping `target` (`127.0.0.1:PORT`, path `/metrics`) and waits until its API answers.
    init(scraping target: String) throws {
        self.directory = NSTemporaryDirectory() + "dnsgate-prometheus-\(getpid())"
        try? FileManager.default.removeItem(atPath: self.directory)
        try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
        try """
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: dnsgate
                static_configs:
                  - targets: ['\(target)']
            """.write(toFile: self.directory + "/prometheus.yml", atomically: true, encoding: .utf8)
        self.daemon = try Daemon(name: "prometheus", executable: "/usr/bin/prometheus", arguments: [
            "--config.file=\(self.directory)/prometheus.yml", "--storage.tsdb.path=\(self.directory)/data",
            "--web.listen-address=127.0.0.1:\(Self.port)",
        ], logPath: self.directory + "/prometheus.log")
        guard try waitUntil(timeout: 30, { try self.value(of: "up") != nil }) else {
            self.stop()
            throw SetupError("Prometheus did not start: \(self.daemon.log.suffix(2000))")
        }
    }

    /// The single value of the instant query `query`, or nil when it has none (yet).
    func value(of query: String) throws -> Double? {
        let encoded = query.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? query
        let result = try runCommand("/usr/bin/curl", ["-s", "--max-time", "3",
                                                      "http://127.0.0.1:\(Self.port)/api/v1/query?query=\(encoded)"])
        guard let json = try? JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any],
            let data = json["data"] as? [String: Any], let results = data["result"] as? [[String: Any]],
            let first = results.first, let value = first["value"] as? [Any], let text = value.last as? String
        else { return nil }
        return Double(text)
    }

    func stop() {
        self.daemon.stop()
    }
}
