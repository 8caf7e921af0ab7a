import Foundation

/// The real `dnsgate` binary, built by `swift build` before the tests run.
enum DNSGateBinary {
    static var path: String {
        if let path = ProcessInfo.processInfo.environment["TEST_DNSGATE_BINARY"] { return path }
        // Tests/IntegrationTests/DNSGateProcess.swift → repository root.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/dnsgate").path
    }

    /// Starts `dnsgate serve` with `arguments` (and `environment` added to the test's own) and waits until it
    /// reports that its listeners are open.
    static func start(port: Int, arguments: [String], name: String = "dnsgate", namespace: String? = nil,
                      environment: [String: String] = [:]) throws -> Daemon
    {
        guard FileManager.default.isExecutableFile(atPath: self.path) else {
            throw SetupError("no dnsgate binary at \(self.path): run `swift build` first")
        }
        let log = NSTemporaryDirectory() + "\(name)-\(getpid())-\(port).log"
        let daemon = try Daemon(name: name, executable: self.path, arguments: ["serve"] + arguments, logPath: log,
                                namespace: namespace, environment: environment)
        let ready = waitUntil(timeout: 20) { !daemon.isRunning || daemon.log.contains("dnsgate started") }
        guard ready, daemon.isRunning else {
            daemon.stop()
            throw SetupError("dnsgate did not start: \(daemon.log)")
        }
        return daemon
    }
}
