import Foundation

/// A private signed DNS hierarchy (built by `scripts/dnssec-test-zones.sh`) served by knot, behind a non-validating
/// unbound (`module-config: "iterator"`) that is dnsgate's upstream; and two validators given the same trust anchor
/// and the same upstream to compare verdicts with: unbound (`validator iterator`) and Knot Resolver.
final class SignedHierarchy: @unchecked Sendable {
    static let knotPort = 15431
    static let iteratorPort = 15432
    static let unboundPort = 15433
    static let kresdPort = 15434

    let directory: String
    private var daemons: [Daemon] = []

    /// Started on first use, killed at exit.
    static let shared: Result<SignedHierarchy, any Error> = Result { try SignedHierarchy() }

    var anchorPath: String { self.directory + "/anchor.ds" }
    var upstreamURL: String { "udp://127.0.0.1:\(Self.iteratorPort)" }

    private init() throws {
        self.directory = NSTemporaryDirectory() + "dnsgate-dnssec-\(getpid())"
        try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/dnssec-test-zones.sh").path
        let built = try runCommand("/bin/bash", [script, self.directory])
        guard built.status == 0 else { throw SetupError("signing the test zones failed: \(built.error)") }
        let zones = try String(contentsOfFile: self.directory + "/zones.list", encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        try self.writeConfigs(zones: zones)
        do {
            try self.start("knotd", "/usr/sbin/knotd", ["-c", self.directory + "/knot.conf"], port: Self.knotPort,
                           probe: "www.ecdsa.test")
            try self.start("unbound-iterator", "/usr/sbin/unbound", ["-d", "-c", self.directory + "/iterator.conf"],
                           port: Self.iteratorPort, probe: "www.ecdsa.test")
            try self.start("unbound-validator", "/usr/sbin/unbound", ["-d", "-c", self.directory + "/validator.conf"],
                           port: Self.unboundPort, probe: "www.ecdsa.test")
            try FileManager.default.createDirectory(atPath: self.directory + "/kresd", withIntermediateDirectories: true)
            try self.start("kresd", "/usr/sbin/kresd",
                           ["--noninteractive", "-c", self.directory + "/kresd.conf", self.directory + "/kresd"],
                           port: Self.kresdPort, probe: "www.ecdsa.test")
        } catch {
            self.daemons.forEach { $0.stop() }
            throw error
        }
    }

    private func start(_ name: String, _ executable: String, _ arguments: [String], port: Int, probe: String) throws {
        let daemon = try Daemon(name: name, executable: executable, arguments: arguments,
                                logPath: self.directory + "/\(name).log")
        self.daemons.append(daemon)
        guard try waitUntil(timeout: 30, {
            try Kdig.query(probe, port: port, timeout: 1)?.status == "NOERROR"
        }) else { throw SetupError("\(name) did not answer: \(daemon.log)") }
    }

    private func writeConfigs(zones: [[String]]) throws {
        let dir = self.directory
        try knotConfiguration(directory: dir, port: Self.knotPort,
                              zones: zones.filter { $0.count == 2 }.map { ($0[0], $0[1]) })
            .write(toFile: dir + "/knot.conf", atomically: true, encoding: .utf8)
        // The iterator reaches every zone at knot's port through stub zones (delegations name port 53).
        let stubs = zones.filter { $0.count == 2 }.map {
            "stub-zone:\n    name: \"\($0[0])\"\n    stub-addr: 127.0.0.1@\(Self.knotPort)"
        }
        func unbound(port: Int, modules: String, extra: String) -> String {
            """
            server:
                interface: 127.0.0.1@\(port)
                port: \(port)
                do-not-query-localhost: no
                module-config: "\(modules)"
                username: ""
                chroot: ""
                directory: "\(dir)"
                pidfile: "\(dir)/unbound-\(port).pid"
                use-syslog: no
                logfile: ""
                verbosity: 1
                qname-minimisation: no
                access-control: 127.0.0.0/8 allow
                local-zone: "test." nodefault
            \(extra)
            """
        }
        try unbound(port: Self.iteratorPort, modules: "iterator", extra: stubs.joined(separator: "\n"))
            .write(toFile: dir + "/iterator.conf", atomically: true, encoding: .utf8)
        try unbound(port: Self.unboundPort, modules: "validator iterator", extra: """
                trust-anchor-file: "\(self.anchorPath)"
            forward-zone:
                name: "."
                forward-addr: 127.0.0.1@\(Self.iteratorPort)
            """).write(toFile: dir + "/validator.conf", atomically: true, encoding: .utf8)
        let anchor = try String(contentsOfFile: self.anchorPath, encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        try """
            net.listen('127.0.0.1', \(Self.kresdPort), { kind = 'dns' })
            trust_anchors.remove('.')
            trust_anchors.add('\(anchor)')
            policy.add(policy.all(policy.FORWARD('127.0.0.1@\(Self.iteratorPort)')))
            """.write(toFile: dir + "/kresd.conf", atomically: true, encoding: .utf8)
    }
}
