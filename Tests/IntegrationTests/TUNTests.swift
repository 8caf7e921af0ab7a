import Foundation
import Testing

extension IntegrationSuite {
    /// dnsgate's virtual resolver on its own TUN device, inside a network namespace the test creates: knot and the
    /// DoT terminator run in the same namespace, so every packet stays in it.
    @Suite(.enabled(if: NetworkNamespace.unavailableReason == nil,
                    "needs network namespaces and /dev/net/tun; the reason is printed on stderr"))
    struct TUNTests {
        static let virtual4 = "169.254.53.53"
        static let virtual6 = "fd53:7a9c:1e42::53"

        @Test func virtualAddressesAnswerOverUDPAndTCPAndSurviveAFloodOfGarbage() throws {
            let namespace = try NetworkNamespace("tun")
            defer { namespace.delete() }
            let upstream = try TestUpstream(namespace: namespace.name)
            defer { upstream.stop() }
            let config = NSTemporaryDirectory() + "dnsgate-tun-\(getpid()).yaml"
            try "tun:\n  enabled: true\n  name: dgtun0\n  mtu: 1280\n".write(toFile: config, atomically: true,
                                                                            encoding: .utf8)
            let dnsgate = try DNSGateBinary.start(port: 15390, arguments: [
                "--listen", "127.0.0.1:15390", "--upstream", upstream.dotURL, "--ca-file", upstream.caPath,
                "--config", config,
            ], name: "dnsgate-tun", namespace: namespace.name)
            defer { dnsgate.stop() }
            #expect(dnsgate.log.contains("virtual DNS on TUN device"))

            func ask(_ name: String, _ type: String = "A", server: String, _ options: [String] = []) throws
                -> Kdig.Reply?
            {
                try Kdig.query(name, type, server: server, port: 53, options: options, timeout: 3,
                               namespace: namespace.name)
            }
            let big = "big." + TestUpstream.zone
            for server in [Self.virtual4, Self.virtual6] {
                for options in [[], ["+tcp"]] {
                    let reply = try ask("h000042." + TestUpstream.zone, server: server, options)
                    #expect(reply?.answers == ["h000042.\(TestUpstream.zone) 3600 IN A 198.18.0.42"],
                            "\(server) \(options): \(reply?.raw ?? "no reply")")
                }
                // 3 KB of TXT: fragmented to the 1280-byte MTU over UDP, whole over TCP.
                for options in [["+bufsize=4096"], ["+tcp"]] {
                    let reply = try ask(big, "TXT", server: server, options)
                    #expect(reply?.flags.contains("tc") == false)
                    #expect(reply?.answers.first?.contains(String(repeating: "l", count: 250)) == true,
                            "\(server) \(options): \(reply?.raw.prefix(400) ?? "no reply")")
                }
                // Without EDNS the answer is cut to 512 bytes with TC set; kdig then retries over TCP by itself.
                let truncated = try ask(big, "TXT", server: server, ["+notcp", "+ignore"])
                #expect(truncated?.flags.contains("tc") == true)
                let ping = try runCommand("/usr/bin/ping", ["-c", "1", "-W", "3", server], namespace: namespace.name)
                #expect(ping.status == 0, "ping \(server): \(ping.output) \(ping.error)")
            }

            // Garbage: random payloads under IPv4 headers the kernel completes, for four protocols, and random bytes
            // to port 53 and to other ports; 6000 packets in all.
            let flood = """
                import os, random, socket
                random.seed(7)
                raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
                src, dst = socket.inet_aton("169.254.53.1"), socket.inet_aton("\(Self.virtual4)")
                for i in range(3000):
                    header = bytes([0x45, 0, 0, 0, 0, 0, 0, 0, 64, random.choice([1, 6, 17, 99]), 0, 0]) + src + dst
                    raw.sendto(header + os.urandom(random.randint(0, 300)), ("\(Self.virtual4)", 0))
                udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                for i in range(3000):
                    udp.sendto(os.urandom(random.randint(0, 600)), ("\(Self.virtual4)", random.choice([53, 54, 9])))
                """
            let flooded = try runCommand("/usr/bin/python3", ["-c", flood], namespace: namespace.name)
            #expect(flooded.status == 0, "\(flooded.error)")
            #expect(dnsgate.isRunning)
            for server in [Self.virtual4, Self.virtual6] {
                let reply = try ask("h000043." + TestUpstream.zone, server: server)
                #expect(reply?.answers == ["h000043.\(TestUpstream.zone) 3600 IN A 198.18.0.43"])
            }
        }

        /// Device addresses with a prefix, as a VPN client's (olm's) device has: the kernel routes the prefix into the
        /// device, only the virtual resolver is answered, and dnsgate takes its addresses away again on exit, even
        /// from a device that existed before it (a persistent one, which outlives dnsgate).
        @Test func deviceAddressesWithAPrefixRouteItIntoTheDeviceUntilExit() throws {
            let namespace = try NetworkNamespace("tunp")
            defer { namespace.delete() }
            try namespace.ip(["tuntap", "add", "dev", "dgtunp0", "mode", "tun"])
            let upstream = try TestUpstream(namespace: namespace.name)
            defer { upstream.stop() }
            let config = NSTemporaryDirectory() + "dnsgate-tunp-\(getpid()).yaml"
            try """
                tun:
                  enabled: true
                  name: dgtunp0
                  device_addresses: [100.90.128.2/24, "fdf6:ae92:c3:1::2/64"]
                """.write(toFile: config, atomically: true, encoding: .utf8)
            let dnsgate = try DNSGateBinary.start(port: 15391, arguments: [
                "--listen", "127.0.0.1:15391", "--upstream", upstream.dotURL, "--ca-file", upstream.caPath,
                "--config", config,
            ], name: "dnsgate-tunp", namespace: namespace.name)
            defer { dnsgate.stop() }

            func inNamespace(_ arguments: [String]) throws -> String {
                try runCommand("/usr/sbin/ip", ["-n", namespace.name] + arguments).output
            }
            #expect(try inNamespace(["-4", "route", "get", "100.90.128.7"]).contains("dev dgtunp0 src 100.90.128.2"))
            #expect(try inNamespace(["-6", "route", "get", "fdf6:ae92:c3:1::7"]).contains("dev dgtunp0"))
            for server in [Self.virtual4, Self.virtual6] {
                let reply = try Kdig.query("h000044." + TestUpstream.zone, server: server, port: 53, timeout: 3,
                                           namespace: namespace.name)
                #expect(reply?.answers == ["h000044.\(TestUpstream.zone) 3600 IN A 198.18.0.44"], "\(server)")
            }
            // Another address of the prefix goes into the device but is no resolver: no DNS answer, no echo reply.
            let notResolver = try Kdig.query("h000045." + TestUpstream.zone, server: "100.90.128.7", port: 53,
                                             timeout: 1, namespace: namespace.name)
            #expect(notResolver == nil)
            let ping = try runCommand("/usr/bin/ping", ["-c", "1", "-W", "1", "100.90.128.7"], namespace: namespace.name)
            #expect(ping.status != 0, "\(ping.output)")

            // A reload moves the virtual resolver to another address: routed and answered at once, the old one
            // neither any more.
            try """
                tun:
                  enabled: true
                  name: dgtunp0
                  device_addresses: [100.90.128.2/24, "fdf6:ae92:c3:1::2/64"]
                  addresses: [169.254.53.54, "fd53:7a9c:1e42::53"]
                """.write(toFile: config, atomically: true, encoding: .utf8)
            kill(dnsgate.pid, SIGHUP)
            #expect(try waitUntil(timeout: 5) { dnsgate.log.contains("configuration reloaded") }, "\(dnsgate.log)")
            let moved = try Kdig.query("h000046." + TestUpstream.zone, server: "169.254.53.54", port: 53, timeout: 3,
                                       namespace: namespace.name)
            #expect(moved?.answers == ["h000046.\(TestUpstream.zone) 3600 IN A 198.18.0.46"], "\(dnsgate.log)")
            #expect(try Kdig.query("h000047." + TestUpstream.zone, server: Self.virtual4, port: 53, timeout: 1,
                                   namespace: namespace.name) == nil)

            let before = try inNamespace(["addr", "show", "dev", "dgtunp0"])
            #expect(before.contains("inet 100.90.128.2/24") && before.contains("inet6 fdf6:ae92:c3:1::2/64"), "\(before)")
            dnsgate.stop()
            let after = try inNamespace(["addr", "show", "dev", "dgtunp0"])
            #expect(!after.contains("100.90.128.2") && !after.contains("fdf6:ae92:c3:1::2"), "\(after)")
            #expect(!(try inNamespace(["route", "show", "dev", "dgtunp0"])).contains("169.254.53.5"))
        }
    }
}
