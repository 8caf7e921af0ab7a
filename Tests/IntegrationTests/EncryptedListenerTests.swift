import Foundation
import Testing

extension IntegrationSuite {
    /// dnsgate's DoT and DoH listeners, with a certificate from the test's throwaway CA, queried by kdig (`+tls`,
    /// `+https`) and curl (HTTP/2 and HTTP/1.1, GET and POST).
    @Suite struct EncryptedListenerTests {
        static let dotPort = 15402
        static let dohPort = 15403
        static let name = "listener.test"
        let upstream: TestUpstream

        init() throws {
            self.upstream = try TestUpstream.shared.get()
        }

        /// A key and a certificate for `name` issued by the test CA, written to `directory`.
        func issue(_ name: String, into directory: String) throws {
            let ca = self.upstream.directory
            try """
                [leaf_ext]
                basicConstraints = critical, CA:FALSE
                keyUsage = critical, digitalSignature
                extendedKeyUsage = serverAuth
                subjectAltName = DNS:\(name)
                """.write(toFile: directory + "/leaf.cnf", atomically: true, encoding: .utf8)
            for step in [
                ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", directory + "/new.key", "-out", directory + "/leaf.csr", "-subj", "/CN=\(name)"],
                ["x509", "-req", "-in", directory + "/leaf.csr", "-CA", ca + "/ca.pem", "-CAkey", ca + "/ca.key",
                 "-CAcreateserial", "-out", directory + "/new.pem", "-days", "2", "-extfile", directory + "/leaf.cnf",
                 "-extensions", "leaf_ext"],
            ] {
                let result = try runCommand("/usr/bin/openssl", step)
                guard result.status == 0 else { throw SetupError("openssl \(step[0]) failed: \(result.error)") }
            }
            // Swapped in by rename, as certificate renewal tools do.
            guard rename(directory + "/new.key", directory + "/listener.key") == 0,
                rename(directory + "/new.pem", directory + "/listener.pem") == 0
            else { throw SetupError("cannot move the new certificate into place") }
        }

        func start(environment: [String: String] = [:]) throws -> (Daemon, String) {
            let directory = NSTemporaryDirectory() + "dnsgate-listener-\(getpid())-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try self.issue(Self.name, into: directory)
            let daemon = try DNSGateBinary.start(port: Self.dotPort, arguments: [
                "--listen", "tls://127.0.0.1:\(Self.dotPort)", "--listen", "https://127.0.0.1:\(Self.dohPort)/dns-query",
                "--tls-cert", directory + "/listener.pem", "--tls-key", directory + "/listener.key",
                "--upstream", self.upstream.dotURL, "--ca-file", self.upstream.caPath, "--admin-listen", "off",
            ], environment: environment)
            return (daemon, directory)
        }

        /// `tcp.idle_timeout` closes every connection a client holds without asking anything: on the DoH listener
        /// one that never starts TLS (no protocol chosen yet) and one on HTTP/1.1 with no request.
        @Test func idleDoHConnectionsCloseBeforeALPNAndOnHTTP1() throws {
            let (dnsgate, directory) = try self.start(environment: ["DNSGATE_TCP_IDLE_TIMEOUT": "1s"])
            defer { dnsgate.stop(); try? FileManager.default.removeItem(atPath: directory) }
            let script = """
                import socket, ssl, sys, time
                context = ssl.create_default_context(cafile=sys.argv[1])
                silent = socket.create_connection(("127.0.0.1", \(Self.dohPort)))
                context.set_alpn_protocols(["http/1.1"])
                http1 = context.wrap_socket(socket.create_connection(("127.0.0.1", \(Self.dohPort))),
                                            server_hostname="\(Self.name)")
                print("alpn", http1.selected_alpn_protocol(), flush=True)
                start = time.monotonic()
                for name, connection in (("silent", silent), ("http1", http1)):
                    connection.settimeout(8)
                    try:
                        closed = connection.recv(1) == b""
                    except (ConnectionResetError, ssl.SSLError):
                        closed = True
                    except socket.timeout:
                        closed = False
                    print(name, "closed" if closed else "open", round(time.monotonic() - start, 1), flush=True)
                """
            try script.write(toFile: directory + "/idle-timeout.py", atomically: true, encoding: .utf8)
            let result = try runCommand("/usr/bin/python3", [directory + "/idle-timeout.py", self.upstream.caPath])
            #expect(result.output.contains("alpn http/1.1"), "\(result.output)\(result.error)")
            for name in ["silent", "http1"] {
                let line = result.output.split(separator: "\n").first { $0.hasPrefix(name + " ") } ?? ""
                let seconds = line.split(separator: " ").last.flatMap { Double($0) } ?? -1
                #expect(line.contains("closed") && seconds < 4, "\(name): \(line)")
            }
        }

        func kdig(_ name: String, _ type: String = "A", over transport: String, tlsName: String = Self.name,
                          options: [String] = []) throws -> Kdig.Reply? {
            let port = transport == "+https" ? Self.dohPort : Self.dotPort
            return try Kdig.query(name, type, port: port, options: [
                transport, "+tls-ca=\(self.upstream.caPath)", "+tls-hostname=\(tlsName)",
            ] + options)
        }

        @Test func kdigQueriesOverDoTAndDoH() throws {
            let (dnsgate, directory) = try self.start()
            defer { dnsgate.stop(); try? FileManager.default.removeItem(atPath: directory) }
            let direct = try #require(try Kdig.query("multi." + TestUpstream.zone, port: TestUpstream.knotPort))
            for transport in ["+tls", "+https"] {
                let reply = try #require(try self.kdig("multi." + TestUpstream.zone, over: transport), "\(transport)")
                #expect(reply.status == "NOERROR")
                #expect(reply.answers == direct.answers)
                // RFC 8467: a padded query gets an answer padded to a multiple of 468 octets.
                let padded = try #require(try self.kdig("h000001." + TestUpstream.zone, over: transport,
                                                        options: ["+padding"]))
                let size = padded.raw.split(separator: "\n").first { $0.contains("Received") }
                    .flatMap { $0.split(separator: " ").dropFirst(2).first }.flatMap { Int($0) }
                #expect(size.map { $0 % 468 == 0 } == true, "\(padded.raw)")
            }
            // Several pipelined queries on one DoT connection, all answered.
            let names = (0..<20).map { String(format: "h%06d.", $0) + TestUpstream.zone }
            let result = try runCommand("/usr/bin/kdig", ["@127.0.0.1", "-p", "\(Self.dotPort)", "+tls",
                                                          "+tls-ca=\(self.upstream.caPath)",
                                                          "+tls-hostname=\(Self.name)", "+keepopen"] + names)
            #expect(result.output.components(separatedBy: "status: NOERROR").count - 1 == 20)
            #expect(dnsgate.log.contains("tls://127.0.0.1:\(Self.dotPort)"))
        }

        private func curl(_ arguments: [String]) throws -> CommandResult {
            try runCommand("/usr/bin/curl", ["-s", "-D", "-", "-o", "/dev/null", "--cacert", self.upstream.caPath,
                                             "--resolve", "\(Self.name):\(Self.dohPort):127.0.0.1",
                                             "--max-time", "5"] + arguments)
        }

        @Test func curlGetsAnswersWithCacheControlOverHTTP2AndHTTP1() throws {
            let (dnsgate, directory) = try self.start()
            defer { dnsgate.stop(); try? FileManager.default.removeItem(atPath: directory) }
            let url = "https://\(Self.name):\(Self.dohPort)/dns-query"
            // h000001.test.example A, ID 0, RD (RFC 8484's GET form: base64url, no padding).
            let query = WireQueries.query("h000001.test.example", id: 0)
            let encoded = Data(query).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            try Data(query).write(to: URL(fileURLWithPath: directory + "/query"))
            for version in ["--http2", "--http1.1"] {
                let get = try self.curl([version, url + "?dns=" + encoded]).output.lowercased()
                #expect(get.contains(version == "--http2" ? "http/2 200" : "http/1.1 200"), "\(get)")
                #expect(get.contains("content-type: application/dns-message"))
                #expect(get.contains("cache-control: max-age="), "\(get)")
                let post = try self.curl([version, "-H", "content-type: application/dns-message",
                                          "--data-binary", "@" + directory + "/query", url]).output.lowercased()
                #expect(post.contains(" 200"), "\(post)")
                #expect(post.contains("content-length: "))
            }
            let body = try runCommand("/usr/bin/curl", ["-s", "--http2", "--cacert", self.upstream.caPath,
                                                        "--resolve", "\(Self.name):\(Self.dohPort):127.0.0.1",
                                                        "-H", "content-type: application/dns-message",
                                                        "--data-binary", "@" + directory + "/query", url, "-o",
                                                        directory + "/answer"])
            #expect(body.status == 0)
            let answer = try [UInt8](Data(contentsOf: URL(fileURLWithPath: directory + "/answer")))
            #expect(answer.count > 12 && answer[0] == 0 && answer[1] == 0 && answer[3] & 0x0F == 0)
            #expect(Array(answer.suffix(4)) == [198, 18, 0, 1])
            #expect(try self.curl(["--http2", url.replacingOccurrences(of: "dns-query", with: "other") + "?dns=" + encoded])
                .output.contains(" 404"))
            #expect(try self.curl(["--http2", "-H", "content-type: text/plain", "--data-binary",
                                   "@" + directory + "/query", url]).output.contains(" 415"))
            #expect(try self.curl(["--http2", url + "?dns=!!!"]).output.contains(" 400"))
        }

        @Test func shutdownClosesIdleDoTAndDoHConnectionsAtOnce() throws {
            let (dnsgate, directory) = try self.start()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            // Two clients that connect (DoT, and DoH with the HTTP/2 preface) and then say nothing.
            let script = """
                import socket, ssl, sys, time
                context = ssl.create_default_context(cafile=sys.argv[1])
                held = []
                for port, protocol in ((\(Self.dotPort), "dot"), (\(Self.dohPort), "h2")):
                    context.set_alpn_protocols([protocol])
                    connection = context.wrap_socket(socket.create_connection(("127.0.0.1", port)),
                                                     server_hostname="\(Self.name)")
                    if protocol == "h2":
                        connection.sendall(b"PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0]))
                    held.append(connection)
                print("connected", flush=True)
                time.sleep(20)
                """
            try script.write(toFile: directory + "/idle.py", atomically: true, encoding: .utf8)
            let clients = try Daemon(name: "idle-clients", executable: "/usr/bin/python3",
                                     arguments: [directory + "/idle.py", self.upstream.caPath],
                                     logPath: directory + "/idle.log")
            defer { clients.stop() }
            #expect(waitUntil(timeout: 10) { clients.log.contains("connected") }, "\(clients.log)")
            let started = Date()
            #expect(dnsgate.stop() == 0)
            // The grace period is 5 s; connections with nothing in flight must not use it.
            #expect(Date().timeIntervalSince(started) < 2.5)
            #expect(!dnsgate.log.contains("grace period over"))
        }

        @Test func aRenewedCertificateIsUsedWithoutARestart() throws {
            let (dnsgate, directory) = try self.start()
            defer { dnsgate.stop(); try? FileManager.default.removeItem(atPath: directory) }
            #expect(try self.kdig("h000001." + TestUpstream.zone, over: "+tls")?.status == "NOERROR")
            try self.issue("renewed.test", into: directory)
            #expect(waitUntil(timeout: 10) {
                (try? self.kdig("h000001." + TestUpstream.zone, over: "+tls", tlsName: "renewed.test"))??.status
                    == "NOERROR"
            })
            #expect(dnsgate.log.contains("TLS certificate reloaded"))
            #expect(try self.kdig("h000001." + TestUpstream.zone, over: "+https", tlsName: "renewed.test")?.status
                == "NOERROR")
        }
    }
}
