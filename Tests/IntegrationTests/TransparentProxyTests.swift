import Foundation
import Testing

extension IntegrationSuite {
    /// Fake-IP mode end to end, in three network namespaces the test creates and deletes: a client, a gateway
    /// running dnsgate (DNS, TPROXY proxy) with knot and the DoT terminator, and a server with a TCP echo service.
    @Suite(.enabled(if: NetworkNamespace.tproxyUnavailableReason == nil,
                    "needs network namespaces and TPROXY; the reason is printed on stderr"))
    struct TransparentProxyTests {
        static let dnsPort = 15392
        static let proxyPort = 15400
        static let echoPort = 8007

        /// TCP and UDP echo servers (threads, so that several clients can talk at once).
        static let echoServer = """
            import socketserver, threading
            class EchoUDP(socketserver.BaseRequestHandler):
                def handle(self):
                    data, sock = self.request
                    sock.sendto(data, self.client_address)
            socketserver.ThreadingUDPServer.max_packet_size = 65536  # 8192 by default: it would cut datagrams
            udp = socketserver.ThreadingUDPServer(("10.77.2.2", \(echoPort)), EchoUDP)
            threading.Thread(target=udp.serve_forever, daemon=True).start()
            class Echo(socketserver.BaseRequestHandler):
                def handle(self):
                    while True:
                        data = self.request.recv(65536)
                        if not data:
                            return
                        self.request.sendall(data)
            socketserver.ThreadingTCPServer.allow_reuse_address = True
            socketserver.ThreadingTCPServer(("10.77.2.2", \(echoPort)), Echo).serve_forever()
            """

        /// The echo servers, running in `namespace` with their output in a log named after `name`.
        static func startEchoServer(named name: String, in namespace: NetworkNamespace) throws -> Daemon {
            try Daemon(name: name, executable: "/usr/bin/python3", arguments: ["-c", Self.echoServer],
                       logPath: NSTemporaryDirectory() + "dnsgate-\(name)-\(getpid()).log", namespace: namespace.name)
        }

        /// Connects to HOST:PORT, sends MESSAGE (`repeat:N` is N times "0123456789"), closes its sending side and
        /// prints what comes back until EOF (`same` for a repeated message that came back whole), or `reset` /
        /// `refused` / `timeout`.
        static let client = """
            import socket, sys, threading
            host, port, message = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
            repeated = message.startswith(b"repeat:")
            if repeated:
                message = b"0123456789" * int(message[7:])
            try:
                s = socket.create_connection((host, port), timeout=5)
                reset = []
                def send():
                    try:
                        s.sendall(message)
                        s.shutdown(socket.SHUT_WR)
                    except (ConnectionResetError, BrokenPipeError):
                        reset.append(True)  # the error goes to whichever call meets it first
                    except OSError:
                        pass
                # Send while reading: an echo of megabytes does not fit in the socket buffers.
                sender = threading.Thread(target=send, daemon=True)
                sender.start()
                received = b""
                while True:
                    data = s.recv(65536)
                    if not data:
                        break
                    received += data
                sender.join(1)
                if reset and not received:
                    raise ConnectionResetError()
                if repeated:
                    print("same" if received == message else f"{len(received)} of {len(message)} bytes, reset={bool(reset)}")
                else:
                    print(received.decode()[:200])
            except ConnectionResetError:
                print("reset")
            except ConnectionRefusedError:
                print("refused")
            except socket.timeout:
                print("timeout")
            """

        /// Sends two datagrams to HOST:PORT and prints each answer with the address it came from, or `timeout`.
        static let udpClient = """
            import socket, sys
            host, port = sys.argv[1], int(sys.argv[2])
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(3)
            for message in (b"first datagram", b"second datagram"):
                s.sendto(message, (host, port))
                try:
                    data, sender = s.recvfrom(65536)
                    print(data.decode(), sender[0], sender[1])
                except socket.timeout:
                    print("timeout")
            """

        /// Sends a datagram of random bytes of each size in SIZES (comma-separated) to HOST:PORT, first all on one
        /// flow that a 1-byte datagram opened, then each as the first datagram of a flow of its own, and prints a
        /// line per datagram: `later SIZE whole`, `first SIZE whole`, or with what came back instead (a length or
        /// `timeout`).
        static let udpSizesClient = """
            import os, socket, sys
            host, port, sizes = sys.argv[1], int(sys.argv[2]), [int(size) for size in sys.argv[3].split(",")]
            def flow():
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.settimeout(2)
                return s
            def exchange(s, size):
                data = os.urandom(size)
                s.sendto(data, (host, port))
                try:
                    echoed, _ = s.recvfrom(65536)
                except socket.timeout:
                    return "timeout"
                return "whole" if echoed == data else f"{len(echoed)} bytes"
            later = flow()
            print("opened", exchange(later, 1))
            for size in sizes:
                print("later", size, exchange(later, size))
            for size in sizes:
                print("first", size, exchange(flow(), size))
            """

        /// The sizes a relay must carry whole: the smallest, the largest in one Ethernet frame and one more, some
        /// fragmented ones, and the largest UDP payload over IPv4.
        static let datagramSizes = [1, 1472, 1473, 4000, 20_000, 65_507]

        /// What ``udpSizesClient`` prints when every datagram of `sizes` comes back whole, except those in `lost`.
        static func expectedEchoes(_ sizes: [Int], lost: Set<Int> = []) -> String {
            let outcome = { (size: Int) in lost.contains(size) ? "timeout" : "whole" }
            return (["opened whole"] + sizes.map { "later \($0) \(outcome($0))" }
                + sizes.map { "first \($0) \(outcome($0))" }).joined(separator: "\n") + "\n"
        }

        @Test func connectionsToFakeAddressesReachTheRealServerAndTheJournalNamesTheDomain() throws {
            let client = try NetworkNamespace("fc")
            defer { client.delete() }
            let gateway = try NetworkNamespace("fg")
            defer { gateway.delete() }
            let server = try NetworkNamespace("fs")
            defer { server.delete() }
            try client.link(to: gateway, name: "fc0", address: "10.77.1.2/24", otherName: "fg0",
                            otherAddress: "10.77.1.1/24")
            try server.link(to: gateway, name: "fs0", address: "10.77.2.2/24", otherName: "fg1",
                            otherAddress: "10.77.2.1/24")
            try client.ip(["route", "add", "default", "via", "10.77.1.1"])
            // TPROXY on the gateway: connections to the fake range go to the proxy's listener.
            try gateway.ip(["rule", "add", "fwmark", "1", "lookup", "100"])
            try gateway.ip(["route", "add", "local", "0.0.0.0/0", "dev", "lo", "table", "100"])
            try gateway.run("/usr/sbin/nft", [
                "add table ip dgtproxy ; add chain ip dgtproxy prerouting { type filter hook prerouting priority mangle ; } ; "
                    + "add rule ip dgtproxy prerouting ip daddr 198.18.0.0/15 meta l4proto { tcp, udp } "
                    + "tproxy to :\(Self.proxyPort) meta mark set 1",
            ])
            let echo = try Self.startEchoServer(named: "echo", in: server)
            defer { echo.stop() }
            let upstream = try TestUpstream(namespace: gateway.name)
            defer { upstream.stop() }
            // A real SOCKS5 server (Dante) in the server namespace, which resolves names from its own hosts file:
            // `viasocks` is 10.77.2.99 in knot (unreachable) and the echo server in Dante's view.
            let hostsDirectory = "/etc/netns/\(server.name)"
            try FileManager.default.createDirectory(atPath: hostsDirectory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: hostsDirectory) }
            try "127.0.0.1 localhost\n10.77.2.2 viasocks.\(TestUpstream.zone.dropLast())\n"
                .write(toFile: hostsDirectory + "/hosts", atomically: true, encoding: .utf8)
            let danteLog = NSTemporaryDirectory() + "dnsgate-danted-\(getpid()).log"
            try? FileManager.default.removeItem(atPath: danteLog)
            let danteConfig = NSTemporaryDirectory() + "dnsgate-danted-\(getpid()).conf"
            try """
                logoutput: \(danteLog)
                debug: 1
                internal: 10.77.2.2 port = 1080
                external: 10.77.2.2
                clientmethod: none
                socksmethod: none
                user.privileged: root
                user.unprivileged: nobody
                client pass {
                    from: 10.77.0.0/16 to: 0.0.0.0/0
                    log: connect error
                }
                socks pass {
                    from: 10.77.0.0/16 to: 0.0.0.0/0
                    command: connect udpassociate
                    log: connect disconnect error iooperation
                }
                socks pass {
                    from: 0.0.0.0/0 to: 10.77.0.0/16
                    command: udpreply
                    log: connect disconnect error iooperation
                }
                """.write(toFile: danteConfig, atomically: true, encoding: .utf8)
            // In a session of its own (it signals its whole process group, which must not include the test), and
            // stopped by the PID it writes.
            let dantePIDFile = NSTemporaryDirectory() + "dnsgate-danted-\(getpid()).pid"
            try? FileManager.default.removeItem(atPath: dantePIDFile)
            _ = try Daemon(name: "danted", executable: "/usr/bin/setsid",
                           arguments: ["-f", "/usr/sbin/danted", "-f", danteConfig, "-p", dantePIDFile],
                           logPath: NSTemporaryDirectory() + "dnsgate-danted-out-\(getpid()).log",
                           namespace: server.name)
            defer {
                if let text = try? String(contentsOfFile: dantePIDFile, encoding: .utf8),
                    let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                    kill(pid, SIGKILL)  // it ignores SIGTERM while its children run; they exit with it
                }
            }

            let config = try Self.proxyConfig("tproxy", rules: """
                  reject: [blocked.\(TestUpstream.zone)]
                  socks5:
                    server: socks5://10.77.2.2:1080
                    domains: [viasocks.\(TestUpstream.zone)]
                """)
            let arguments = ["--listen", "10.77.1.1:\(Self.dnsPort)", "--upstream", upstream.dotURL,
                             "--ca-file", upstream.caPath, "--config", config, "--log-level", "debug"]
            var dnsgate = try DNSGateBinary.start(port: Self.dnsPort, arguments: arguments, name: "dnsgate-tproxy",
                                                  namespace: gateway.name)
            defer { dnsgate.stop() }

            func resolve(_ label: String) throws -> String? {
                let reply = try Kdig.query(label + "." + TestUpstream.zone, server: "10.77.1.1", port: Self.dnsPort,
                                           namespace: client.name)
                return reply?.answers.first?.split(separator: " ").last.map(String.init)
            }
            func talk(_ address: String, _ message: String) throws -> String {
                try runCommand("/usr/bin/python3", ["-c", Self.client, address, "\(Self.echoPort)", message],
                               namespace: client.name).output.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            #expect(try waitUntil(timeout: 10) {
                try runCommand("/usr/bin/python3", ["-c", Self.client, "10.77.2.2", "\(Self.echoPort)", "up"],
                               namespace: gateway.name).output.contains("up")
            }, "the echo server answers the gateway directly")

            let fake = try #require(try resolve("echo"))
            #expect(fake.hasPrefix("198.18."))
            #expect(try talk(fake, "hello through the proxy") == "hello through the proxy")
            let echoed = try talk(fake, "repeat:200000")
            #expect(echoed == "same", "2 MB both ways, half-closed by the client: \(echoed)")
            #expect(try waitUntil(timeout: 5) {
                dnsgate.log.contains("connection closed") && dnsgate.log.contains("domain=echo.\(TestUpstream.zone)")
            }, "\(dnsgate.log)")
            #expect(dnsgate.log.contains("sent=23") && dnsgate.log.contains("received=23"))
            #expect(dnsgate.log.contains("real=[IPv4]10.77.2.2/10.77.2.2:\(Self.echoPort)"))

            // UDP: the answers come back from the fake address the client wrote to, for the whole flow.
            let udp = try runCommand("/usr/bin/python3", ["-c", Self.udpClient, fake, "\(Self.echoPort)"],
                                     namespace: client.name).output
            #expect(udp == "first datagram \(fake) \(Self.echoPort)\nsecond datagram \(fake) \(Self.echoPort)\n", "\(udp)")
            #expect(try waitUntil(timeout: 5) { dnsgate.log.contains("protocol=udp") }, "\(dnsgate.log)")
            // Every size arrives whole and byte for byte equal, both ways, as a flow's first datagram and later.
            let sizes = Self.datagramSizes.map(String.init).joined(separator: ",")
            let echoes = try runCommand("/usr/bin/python3", ["-c", Self.udpSizesClient, fake, "\(Self.echoPort)", sizes],
                                        namespace: client.name).output
            #expect(echoes == Self.expectedEchoes(Self.datagramSizes), "\(echoes)")

            // Through SOCKS5: Dante gets the domain name and resolves it itself.
            #expect(waitUntil(timeout: 10) { FileManager.default.fileExists(atPath: dantePIDFile) }, "Dante started")
            #expect(try talk(try #require(try resolve("viasocks")), "via socks") == "via socks")
            let danteSaw = (try? String(contentsOfFile: danteLog, encoding: .utf8)) ?? ""
            #expect(danteSaw.contains("viasocks.test.example"), "\(danteSaw)")
            #expect(dnsgate.log.contains("dialer=socks5"))
            // UDP through the same server's UDP ASSOCIATE relay, still answered from the fake address.
            let viaSocks = try #require(try resolve("viasocks"))
            let relayed = try runCommand("/usr/bin/python3", ["-c", Self.udpClient, viaSocks, "\(Self.echoPort)"],
                                         namespace: client.name).output
            #expect(relayed == "first datagram \(viaSocks) \(Self.echoPort)\nsecond datagram \(viaSocks) \(Self.echoPort)\n",
                    "\(relayed)\n\(dnsgate.log)")
            #expect(try waitUntil(timeout: 5) {
                dnsgate.log.split(separator: "\n").contains { $0.contains("protocol=udp") && $0.contains("dialer=socks5") }
            }, "\(dnsgate.log)")
            // Through the association too; the largest IPv4 datagram cannot also carry the 28-byte SOCKS5 header
            // naming the domain, so it is dropped whole and counted, never cut.
            #expect(!dnsgate.log.contains("UDP datagram dropped"))
            let socksEchoes = try runCommand("/usr/bin/python3",
                                             ["-c", Self.udpSizesClient, viaSocks, "\(Self.echoPort)", sizes + ",65479"],
                                             namespace: client.name).output
            #expect(socksEchoes == Self.expectedEchoes(Self.datagramSizes + [65_479], lost: [65_507]),
                    "\(socksEchoes)\n\(dnsgate.log.suffix(3000))")
            #expect(dnsgate.log.contains("UDP datagram dropped"))
            let danteSawUDP = (try? String(contentsOfFile: danteLog, encoding: .utf8)) ?? ""
            // Dante's own account of a relayed datagram: its target is the domain name dnsgate put in the header.
            #expect(danteSawUDP.split(separator: "\n").contains { $0.contains("io_udp_client2target")
                && $0.contains("for target viasocks.test.example.\(Self.echoPort)") }, "\(danteSawUDP)")

            // Reset at once: an address nobody was given, a rejected domain, a name whose address cannot be reached.
            #expect(try talk("198.18.200.200", "x") == "reset")
            #expect(try talk(try #require(try resolve("blocked")), "x") == "reset")
            #expect(try talk(try #require(try resolve("nowhere")), "x") == "reset")

            // After a restart the same name has the same address, and connections to it still work.
            dnsgate.stop()
            dnsgate = try DNSGateBinary.start(port: Self.dnsPort, arguments: arguments, name: "dnsgate-tproxy",
                                              namespace: gateway.name)
            #expect(try resolve("echo") == fake)
            #expect(try talk(fake, "after restart") == "after restart")

            // A reload that rejects the domain: new connections to it are reset, without a restart.
            let rejecting = try String(contentsOfFile: config, encoding: .utf8)
                .replacingOccurrences(of: "reject: [blocked.", with: "reject: [echo.\(TestUpstream.zone), blocked.")
            try rejecting.write(toFile: config, atomically: true, encoding: .utf8)
            kill(dnsgate.pid, SIGHUP)
            #expect(try waitUntil(timeout: 5) { dnsgate.log.contains("configuration reloaded") }, "\(dnsgate.log)")
            #expect(try talk(fake, "after reload") == "reset")
        }

        /// Writes a fake-IP configuration with a fresh database of its own, the proxy on ``proxyPort`` with a 1 s
        /// connect timeout and the journal on, plus `rules` (YAML lines under `fakeip:`); returns its path.
        static func proxyConfig(_ name: String, rules: String = "") throws -> String {
            let directory = NSTemporaryDirectory() + "dnsgate-\(name)-\(getpid())"
            try? FileManager.default.removeItem(atPath: directory)
            let config = directory + ".yaml"
            try """
                fakeip:
                  enabled: true
                  database: \(directory)/map.sqlite
                \(rules)
                  proxy:
                    listen: [0.0.0.0:\(Self.proxyPort)]
                    journal: true
                    connect_timeout: 1s
                """.write(toFile: config, atomically: true, encoding: .utf8)
            return config
        }

        /// The commands of the README's single-host section, as written there, with the proxy port replaced.
        static func singleHostRecipe() throws -> [String] {
            let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("README.md")
            let text = try String(contentsOf: readme, encoding: .utf8)
            guard let section = text.range(of: "On a **single host**"),
                let block = text[section.upperBound...].range(of: "```sh\n"),
                let end = text[block.upperBound...].range(of: "```")
            else { throw SetupError("README.md has no single-host command block") }
            return text[block.upperBound..<end.lowerBound].split(separator: "\n").map {
                $0.replacingOccurrences(of: "tproxy to :15400", with: "tproxy to :\(Self.proxyPort)")
            }
        }

        @Test func theReadmeSingleHostRecipeProxiesTheHostsOwnConnections() throws {
            let host = try NetworkNamespace("sh")
            defer { host.delete() }
            let server = try NetworkNamespace("ss")
            defer { server.delete() }
            try host.link(to: server, name: "sh0", address: "10.77.2.1/24", otherName: "ss0", otherAddress: "10.77.2.2/24")
            // Any host has a route for the fake range (its default route); the recipe's output hook needs one.
            try host.ip(["route", "add", "default", "via", "10.77.2.2"])
            let recipe = try Self.singleHostRecipe()
            #expect(recipe.count == 7, "\(recipe)")
            for command in recipe { try host.run("/bin/sh", ["-c", command]) }
            let echo = try Self.startEchoServer(named: "echo-single", in: server)
            defer { echo.stop() }
            let upstream = try TestUpstream(namespace: host.name)
            defer { upstream.stop() }
            let config = try Self.proxyConfig("single")
            let dnsgate = try DNSGateBinary.start(
                port: Self.dnsPort, arguments: ["--listen", "127.0.0.1:\(Self.dnsPort)", "--upstream", upstream.dotURL,
                                                "--ca-file", upstream.caPath, "--config", config],
                name: "dnsgate-single", namespace: host.name)
            defer { dnsgate.stop() }

            let reply = try Kdig.query("echo." + TestUpstream.zone, server: "127.0.0.1", port: Self.dnsPort,
                                       namespace: host.name)
            let fake = try #require(reply?.answers.first?.split(separator: " ").last.map(String.init))
            #expect(fake.hasPrefix("198.18."))
            // The host's own TCP connection and UDP flow to the fake address reach the real server.
            let tcp = try runCommand("/usr/bin/python3", ["-c", Self.client, fake, "\(Self.echoPort)", "from this host"],
                                     namespace: host.name).output
            #expect(tcp.trimmingCharacters(in: .whitespacesAndNewlines) == "from this host", "\(tcp)\n\(dnsgate.log)")
            let udp = try runCommand("/usr/bin/python3", ["-c", Self.udpClient, fake, "\(Self.echoPort)"],
                                     namespace: host.name).output
            #expect(udp == "first datagram \(fake) \(Self.echoPort)\nsecond datagram \(fake) \(Self.echoPort)\n", "\(udp)")
            #expect(try waitUntil(timeout: 5) {
                dnsgate.log.contains("protocol=tcp") && dnsgate.log.contains("protocol=udp")
                    && dnsgate.log.contains("domain=echo.\(TestUpstream.zone)")
            }, "\(dnsgate.log)")
        }
    }
}
