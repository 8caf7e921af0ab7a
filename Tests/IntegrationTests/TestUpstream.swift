import Foundation

/// knot (authoritative for `test.example.`) behind dnsdist as a DNS-over-TLS terminator, on loopback, with a
/// throwaway CA whose certificate names `upstream.test` only (no IP address, so clients must verify by name).
final class TestUpstream: @unchecked Sendable {
    static let knotPort = 15371
    static let tlsPort = 15372
    static let dohPort = 15393
    static let tlsName = "upstream.test"
    static let zone = "test.example."

    let directory: String
    /// The network namespace the servers run in, or nil for the test's own.
    let namespace: String?
    private var knot: Daemon?
    private(set) var terminator: Daemon?

    /// One upstream shared by the whole test run (started on first use, killed at exit).
    static let shared: Result<TestUpstream, any Error> = Result { try TestUpstream(namespace: nil) }

    var caPath: String { self.directory + "/ca.pem" }
    var dotURL: String { "tls://127.0.0.1:\(Self.tlsPort)#\(Self.tlsName)" }
    var dohURL: String { "https://127.0.0.1:\(Self.dohPort)/dns-query#\(Self.tlsName)" }

    /// Starts knot and the terminator, inside `namespace` when one is given (its loopback must be up).
    init(namespace: String? = nil) throws {
        self.namespace = namespace
        self.directory = NSTemporaryDirectory() + "dnsgate-it-\(getpid())" + (namespace.map { "-" + $0 } ?? "")
        try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
        try self.makeCertificates()
        try self.writeZone()
        try self.writeConfigs()
        self.knot = try Daemon(name: "knotd", executable: "/usr/sbin/knotd",
                               arguments: ["-c", self.directory + "/knot.conf"], logPath: self.directory + "/knot.log",
                               namespace: namespace)
        guard try waitUntil(timeout: 30, {
            try Kdig.query("h000001." + Self.zone, port: Self.knotPort, timeout: 1, namespace: namespace)?.status
                == "NOERROR"
        }) else { throw SetupError("knotd did not answer: \(self.knot?.log ?? "")") }
        try self.startTerminator()
    }

    /// Stops both servers (for an upstream that is not the shared one).
    func stop() {
        self.terminator?.stop()
        self.knot?.stop()
    }

    /// Starts (or restarts) the DoT terminator and waits until it answers over TLS.
    func startTerminator() throws {
        self.terminator = try Daemon(
            name: "dnsdist", executable: "/usr/bin/dnsdist",
            arguments: ["--supervised", "--disable-syslog", "-C", self.directory + "/dnsdist.conf"],
            logPath: self.directory + "/dnsdist.log", namespace: self.namespace)
        guard try waitUntil(timeout: 30, {
            try Kdig.query("h000001." + Self.zone, port: Self.tlsPort,
                           options: ["+tls-ca=\(self.caPath)", "+tls-hostname=\(Self.tlsName)"],
                           timeout: 1, namespace: self.namespace)?.status == "NOERROR"
        }) else { throw SetupError("dnsdist did not answer over TLS: \(self.terminator?.log ?? "")") }
    }

    /// Kills the DoT terminator without warning, as a crash would.
    func killTerminator() {
        self.terminator?.stop(signal: SIGKILL)
    }

    /// The base64 SHA-256 of the terminator's SubjectPublicKeyInfo (a `pin_sha256`), computed by openssl.
    func publicKeyPin() throws -> String {
        let pem = self.directory + "/upstream.pem"
        return try runCommand("/bin/sh", ["-c", "openssl x509 -in \(pem) -pubkey -noout | "
            + "openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64"])
            .output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Queries knot has answered so far (its mod-stats counter).
    func knotQueryCount() throws -> Int {
        let result = try runCommand("/usr/sbin/knotc", ["-s", self.directory + "/knot.sock", "stats"])
        let line = result.output.split(separator: "\n").first { $0.hasPrefix("mod-stats.server-operation[query]") }
        return line.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
    }

    private func makeCertificates() throws {
        let cnf = """
            [req]
            distinguished_name = dn
            prompt = no
            [dn]
            CN = dnsgate test CA
            [ca_ext]
            basicConstraints = critical, CA:TRUE
            keyUsage = critical, keyCertSign, cRLSign
            subjectKeyIdentifier = hash
            [leaf_ext]
            basicConstraints = critical, CA:FALSE
            keyUsage = critical, digitalSignature
            extendedKeyUsage = serverAuth
            subjectAltName = DNS:\(Self.tlsName)
            subjectKeyIdentifier = hash
            authorityKeyIdentifier = keyid
            """
        let dir = self.directory
        try cnf.write(toFile: dir + "/openssl.cnf", atomically: true, encoding: .utf8)
        let steps: [[String]] = [
            ["req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", dir + "/ca.key", "-out", dir + "/ca.pem", "-days", "2", "-config", dir + "/openssl.cnf",
             "-extensions", "ca_ext"],
            ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", dir + "/upstream.key", "-out", dir + "/upstream.csr", "-subj", "/CN=\(Self.tlsName)"],
            ["x509", "-req", "-in", dir + "/upstream.csr", "-CA", dir + "/ca.pem", "-CAkey", dir + "/ca.key",
             "-CAcreateserial", "-out", dir + "/upstream.pem", "-days", "2", "-extfile", dir + "/openssl.cnf",
             "-extensions", "leaf_ext"],
        ]
        for step in steps {
            let result = try runCommand("/usr/bin/openssl", step)
            guard result.status == 0 else { throw SetupError("openssl \(step[0]) failed: \(result.error)") }
        }
    }

    private func writeZone() throws {
        let big = (0..<12).map { "\"" + String(repeating: Character(UnicodeScalar(97 + $0)!), count: 250) + "\"" }
        var zone = """
            $ORIGIN \(Self.zone)
            $TTL 3600
            @       SOA   ns hostmaster 1 3600 600 86400 300
            @       NS    ns
            ns      A     127.0.0.1
            big     TXT   \(big.joined(separator: " "))
            v6      AAAA  2001:db8::1
            dual    A     198.19.255.1
            dual    AAAA  2001:db8::2
            c1      CNAME c2
            c2      CNAME c3
            c3      CNAME h000000
            *.wild  A     198.19.255.3
            short 1 A     198.19.255.2
            ; The DoT terminator by name, for bootstrap tests: nothing listens on 127.0.0.9, so only 127.0.0.1 works.
            dot-by-name A 127.0.0.9
            dot-by-name A 127.0.0.1
            ; Hosts inside the fake-IP test's own network namespaces, never contacted from anywhere else.
            echo    A     10.77.2.2
            blocked A     10.77.2.2
            nowhere A     10.77.2.99
            viasocks A    10.77.2.99

            """
        for index in 0..<8 { zone += "multi A 198.19.255.\(10 + index)\n" }
        for index in 0..<2000 { zone += String(format: "h%06d A 198.18.%d.%d\n", index, index / 256, index % 256) }
        try zone.write(toFile: self.directory + "/zone", atomically: true, encoding: .utf8)
    }

    private func writeConfigs() throws {
        let dir = self.directory
        try knotConfiguration(directory: dir, port: Self.knotPort, zones: [(Self.zone, dir + "/zone")])
            .write(toFile: dir + "/knot.conf", atomically: true, encoding: .utf8)
        try """
            setSecurityPollSuffix("")
            addTLSLocal("127.0.0.1:\(Self.tlsPort)", "\(dir)/upstream.pem", "\(dir)/upstream.key",
                        {provider="openssl", minTLSVersion="tls1.2", maxInFlight=100})
            addDOHLocal("127.0.0.1:\(Self.dohPort)", "\(dir)/upstream.pem", "\(dir)/upstream.key", "/dns-query",
                        {minTLSVersion="tls1.2"})
            newServer({address="127.0.0.1:\(Self.knotPort)", name="knot", maxInFlight=100}):setUp()  -- no health checks
            """.write(toFile: dir + "/dnsdist.conf", atomically: true, encoding: .utf8)
    }
}

/// The test environment could not be set up.
struct SetupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
