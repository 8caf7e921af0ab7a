import DNSCore
import DNSTestSupport
import DNSWire
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import Testing
@testable import TUNResponder

/// Collects what the responder writes to the device.
final class CollectingSink: PacketSink {
    let packets = NIOLockedValueBox<[[UInt8]]>([])
    func receive(_ packet: UnsafeRawBufferPointer) { self.packets.withLockedValue { $0.append([UInt8](packet)) } }
    func take() -> [[UInt8]] {
        self.packets.withLockedValue { packets in
            defer { packets.removeAll() }
            return packets
        }
    }
}

@Suite struct DNSPacketResponderTests {
    let loop = EmbeddedEventLoop()
    let output = CollectingSink()
    let client = IPAddress("10.0.0.2")!
    let virtual = IPAddress("169.254.53.53")!

    private func responder(mtu: Int = 1500, answers: Int = 1) -> DNSPacketResponder {
        DNSPacketResponder(pipeline: EchoHandler(answerCount: answers), eventLoop: self.loop, mtu: mtu,
                           output: self.output, maxTCPConnections: 2)
    }

    private func send(_ responder: DNSPacketResponder, _ packet: [UInt8]) {
        packet.withUnsafeBytes { responder.receive($0) }
        self.loop.run()
    }

    private func query(id: UInt16, udpPayloadSize: UInt16? = nil) -> [UInt8] {
        Array(DNSMessage.query(DNSName("a.test") ?? .root, .a, id: id, udpPayloadSize: udpPayloadSize).encoded()
            .readableBytesView)
    }

    /// Parses a reply packet: its IP view and the UDP payload, checking the UDP checksum.
    private func udpPayload(_ packet: [UInt8]) throws -> (IPPacket, [UInt8]) {
        let parsed = try packet.withUnsafeBytes { try IPPacket($0) }
        let datagram = Array(packet[parsed.payloadOffset...])
        var verify = InternetChecksum()
        verify.addPseudoHeader(source: parsed.source, destination: parsed.destination, protocol: 17,
                               length: datagram.count)
        verify.add(datagram)
        #expect(verify.value == 0, "UDP checksum")
        return (parsed, Array(datagram[8...]))
    }

    @Test func udpQueryOverIPv4GetsAWellFormedReply() throws {
        let responder = self.responder()
        let udp = Packets.udp(source: self.client, destination: self.virtual, payload: self.query(id: 77))
        self.send(responder, Packets.ipv4(payload: udp))
        let packets = self.output.take()
        #expect(packets.count == 1)
        let (ip, payload) = try self.udpPayload(try #require(packets.first))
        #expect(ip.source == self.virtual && ip.destination == self.client)
        #expect(ip.hopLimit == 64)
        #expect(packets[0][ip.payloadOffset..<ip.payloadOffset + 4] == [0, 53, 0x9C, 0x40])
        let message = try DNSMessage(ByteBuffer(bytes: payload))
        #expect(message.id == 77 && message.answers.count == 1)
        #expect(responder.statistics.handled.load(ordering: .relaxed) == 1)
    }

    @Test func udpQueryOverIPv6WithAZeroChecksumIsDropped() throws {
        let responder = self.responder()
        let source = try #require(IPAddress("fd00::2"))
        let destination = try #require(IPAddress("fd53:7a9c:1e42::53"))
        let valid = Packets.udp(source: source, destination: destination, payload: self.query(id: 5))
        self.send(responder, Packets.ipv6(source: source, destination: destination, next: 17, payload: valid))
        let reply = try #require(self.output.take().first)
        #expect(try self.udpPayload(reply).0.destination == source)

        let zero = Packets.udp(source: source, destination: destination, payload: self.query(id: 6), checksum: 0)
        self.send(responder, Packets.ipv6(source: source, destination: destination, next: 17, payload: zero))
        let wrong = Packets.udp(source: source, destination: destination, payload: self.query(id: 7), checksum: 0x1234)
        self.send(responder, Packets.ipv6(source: source, destination: destination, next: 17, payload: wrong))
        #expect(self.output.take().isEmpty)
        #expect(responder.statistics.drops(.badChecksum) == 2)
    }

    @Test func largeAnswersAreFragmentedToTheMTUAndTruncatedToTheClientsLimit() throws {
        let responder = self.responder(mtu: 576, answers: 10)
        let edns = Packets.udp(source: self.client, destination: self.virtual,
                               payload: self.query(id: 9, udpPayloadSize: 4096))
        self.send(responder, Packets.ipv4(payload: edns))
        let fragments = self.output.take()
        #expect(fragments.count > 1 && fragments.allSatisfy { $0.count <= 576 })

        let plain = Packets.udp(source: self.client, destination: self.virtual, payload: self.query(id: 10))
        self.send(responder, Packets.ipv4(payload: plain))
        let truncated = self.output.take()
        #expect(truncated.count == 1)
        let message = try DNSMessage(ByteBuffer(bytes: try self.udpPayload(truncated[0]).1))
        #expect(message.flags & DNSHeader.Flag.tc != 0)
    }

    @Test func fragmentedQueriesAreReassembled() throws {
        let responder = self.responder()
        let udp = Packets.udp(source: self.client, destination: self.virtual,
                              payload: self.query(id: 11, udpPayloadSize: 1232))
        let first = Packets.ipv4(id: 99, flagsAndOffset: 0x2000, payload: Array(udp[0..<16]))
        let second = Packets.ipv4(id: 99, flagsAndOffset: 2, payload: Array(udp[16...]))
        self.send(responder, second)
        #expect(self.output.take().isEmpty)
        self.send(responder, first)
        let reply = try #require(self.output.take().first)
        #expect(try DNSMessage(ByteBuffer(bytes: try self.udpPayload(reply).1)).id == 11)
    }

    @Test func echoRequestsGetEchoRepliesAndGarbageIsCountedNotFatal() throws {
        let responder = self.responder()
        var echo: [UInt8] = [8, 0, 0, 0, 0x12, 0x34, 0, 1] + Array("ping".utf8)
        var checksum = InternetChecksum()
        checksum.add(echo)
        echo[2] = UInt8(checksum.value >> 8)
        echo[3] = UInt8(checksum.value & 0xFF)
        self.send(responder, Packets.ipv4(protocol: 1, payload: echo))
        let reply = try #require(self.output.take().first)
        let parsed = try reply.withUnsafeBytes { try IPPacket($0) }
        #expect(reply[parsed.payloadOffset] == 0)
        #expect(Array(reply[(parsed.payloadOffset + 4)...]) == Array(echo[4...]))

        var generator = SystemRandomNumberGenerator()
        for length in 0..<200 {
            self.send(responder, (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) })
        }
        self.send(responder, Packets.ipv4(payload: Packets.udp(source: self.client, destination: self.virtual,
                                                              payload: [1, 2, 3])))
        #expect(self.output.take().isEmpty)
        self.send(responder, Packets.ipv4(payload: Packets.udp(source: self.client, destination: self.virtual,
                                                              payload: self.query(id: 12))))
        #expect(self.output.take().count == 1, "still answering after the garbage")
    }
}
