import DNSTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension IntegrationSuite {
    /// Garbage, half-open and slow clients: afterwards dnsgate still answers correctly and has not grown.
    @Suite struct RobustnessTests {
        static let port = 15376

        @Test func survivesGarbageAndBadClients() throws {
            let upstream = try TestUpstream.shared.get()
            let dnsgate = try DNSGateBinary.start(port: Self.port, arguments: [
                "--listen", "127.0.0.1:\(Self.port)", "--upstream", upstream.dotURL, "--ca-file", upstream.caPath,
            ])
            defer { dnsgate.stop() }
            let name = "h000500." + TestUpstream.zone
            #expect(try Kdig.query(name, port: Self.port)?.status == "NOERROR")
            let baseline = try #require(dnsgate.residentKiB)
            var random = SeededRandom(seed: 2026)

            // Half-open: connect and say nothing; they must not block anyone else.
            let idle = try (0..<20).map { _ in try LoopbackSocket(tcp: true, port: Self.port) }

            // A slow client: one query, one byte every 20 ms.
            let slow = try LoopbackSocket(tcp: true, port: Self.port)
            let slowQuery = WireQueries.query(name, id: 0x5151)
            let framedSlow = [UInt8(slowQuery.count >> 8), UInt8(slowQuery.count & 0xFF)] + slowQuery

            for round in 0..<5 {
                // Random datagrams, some with a plausible header.
                let udp = try LoopbackSocket(tcp: false, port: Self.port)
                for _ in 0..<2000 {
                    var bytes = (0..<Int.random(in: 0...600, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                    if bytes.count > 12, Bool.random(using: &random) { bytes[2] &= 0x7F; bytes[4] = 0; bytes[5] = 1 }
                    udp.send(bytes)
                }
                // Random TCP streams, some with plausible lengths, closed abruptly.
                for _ in 0..<40 {
                    let tcp = try LoopbackSocket(tcp: true, port: Self.port)
                    var bytes = (0..<Int.random(in: 1...3000, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                    if Bool.random(using: &random) { bytes[0] = 0; bytes[1] = UInt8.random(in: 12...40, using: &random) }
                    tcp.send(bytes)
                }
                for byte in framedSlow[(round * framedSlow.count / 5)..<((round + 1) * framedSlow.count / 5)] {
                    slow.send([byte])
                    usleep(20_000)
                }
            }

            // The slow client gets its answer.
            let length = try #require(slow.receiveExactly(2))
            let answer = try #require(slow.receiveExactly(Int(length[0]) << 8 | Int(length[1])))
            #expect(answer[0] == 0x51 && answer[1] == 0x51)
            #expect(answer[3] & 0x0F == 0, "NOERROR")

            // Correct answers over both transports, while the idle connections are still open.
            for options in [[], ["+tcp"]] {
                let reply = try Kdig.query(name, port: Self.port, options: options)
                // The cache counts the TTL down; the record itself must be exact.
                let fields = reply?.answers.first?.split(separator: " ")
                #expect(reply?.answers.count == 1)
                #expect(fields?.first == Substring(name) && fields?.last == "198.18.1.244")
            }
            _ = idle
            let after = try #require(dnsgate.residentKiB)
            #expect(after - baseline < 32 * 1024, "RSS grew from \(baseline) KiB to \(after) KiB")
            #expect(dnsgate.isRunning)
        }
    }
}
