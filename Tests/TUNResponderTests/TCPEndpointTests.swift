import DNSCore
import DNSTestSupport
import DNSWire
import NIOCore
import NIOEmbedded
import Testing
@testable import TUNResponder

/// A client's side of TCP, written by hand: it sends segments into the responder and reads what comes back.
@Suite struct TCPEndpointTests {
    let loop = EmbeddedEventLoop()
    let output = CollectingSink()
    let client = IPAddress("10.0.0.2")!
    let virtual = IPAddress("169.254.53.53")!

    private func responder(idleTimeout: TimeAmount = .seconds(10)) -> DNSPacketResponder {
        DNSPacketResponder(pipeline: EchoHandler(answerCount: 1), eventLoop: self.loop, mtu: 1500, output: self.output,
                           maxTCPConnections: 1, tcpIdleTimeout: idleTimeout)
    }

    /// `tcp.idle_timeout` applies to the virtual resolver's TCP too: a silent connection is reset after it.
    @Test func anIdleConnectionIsResetAfterTheConfiguredTimeout() throws {
        let responder = self.responder(idleTimeout: .seconds(2))
        self.send(responder, sequence: 1000, ack: 0, flags: .syn)
        let synAck = try #require(try self.replies().first?.segment)
        self.send(responder, sequence: 1001, ack: synAck.sequence &+ 1, flags: .ack)
        self.loop.advanceTime(by: .milliseconds(1900))
        #expect(try self.replies().allSatisfy { !$0.segment.flags.contains(.rst) }, "not idle for long enough yet")
        self.loop.advanceTime(by: .milliseconds(200))
        #expect(try self.replies().contains { $0.segment.flags.contains(.rst) })
        // The slot is free: the limit is one connection, and a new one is taken.
        self.send(responder, port: 40002, sequence: 7000, ack: 0, flags: .syn)
        #expect(try self.replies().first?.segment.flags == [.syn, .ack])
    }

    private func send(_ responder: DNSPacketResponder, port: UInt16 = 40001, sequence: UInt32, ack: UInt32,
                      flags: TCPSegment.Flags, data: [UInt8] = []) {
        let segment = TCPSegment(sourcePort: port, destinationPort: 53, sequence: sequence, acknowledgement: ack,
                                 flags: flags, maximumSegmentSize: flags.contains(.syn) ? 1460 : nil)
        let packet = Packets.ipv4(protocol: 6, payload: segment.encoded(data: data[...], from: self.client,
                                                                          to: self.virtual))
        packet.withUnsafeBytes { responder.receive($0) }
        self.loop.run()
    }

    /// The segments written back, parsed (checksums verified by the parser).
    private func replies() throws -> [(segment: TCPSegment, data: [UInt8])] {
        try self.output.take().map { packet in
            let ip = try packet.withUnsafeBytes { try IPPacket($0) }
            let bytes = Array(packet[ip.payloadOffset...])
            let segment = try bytes.withUnsafeBytes { try TCPSegment($0, in: ip) }
            return (segment, Array(bytes[segment.dataOffset...]))
        }
    }

    @Test func handshakeQueryAnswerAndClose() throws {
        let responder = self.responder()
        self.send(responder, sequence: 1000, ack: 0, flags: .syn)
        let synAck = try #require(try self.replies().first?.segment)
        #expect(synAck.flags == [.syn, .ack] && synAck.acknowledgement == 1001)
        #expect(synAck.maximumSegmentSize == 1460)
        let server = synAck.sequence &+ 1

        // Third ACK carries the query, split in two segments; the second arrives first and is refused.
        var query = Array(DNSMessage.query(DNSName("t.test") ?? .root, .a, id: 321).encoded().readableBytesView)
        query = [0, UInt8(query.count)] + query
        self.send(responder, sequence: 1001 + 10, ack: server, flags: [.ack, .psh], data: Array(query[10...]))
        let duplicate = try #require(try self.replies().first?.segment)
        #expect(duplicate.acknowledgement == 1001, "out of order: a duplicate ACK for what comes next")
        self.send(responder, sequence: 1001, ack: server, flags: [.ack, .psh], data: Array(query[..<10]))
        #expect(try self.replies().map(\.segment.acknowledgement) == [1011])
        self.send(responder, sequence: 1011, ack: server, flags: [.ack, .psh], data: Array(query[10...]))
        let answered = try self.replies()
        let answer = try #require(answered.first { !$0.data.isEmpty })
        #expect(answer.segment.sequence == server)
        let length = Int(answer.data[0]) << 8 | Int(answer.data[1])
        #expect(answer.data.count == 2 + length)
        #expect(try DNSMessage(ByteBuffer(bytes: answer.data[2...])).id == 321)

        // Not acknowledged: retransmitted from the first unacknowledged byte.
        self.loop.advanceTime(by: .milliseconds(400))
        let again = try self.replies().first { !$0.data.isEmpty }
        #expect(again?.segment.sequence == server && again?.data == answer.data)

        let clientNext = UInt32(1001 + query.count)
        let serverNext = server &+ UInt32(answer.data.count)
        self.send(responder, sequence: clientNext, ack: serverNext, flags: [.ack, .fin])
        let closing = try self.replies()
        let fin = try #require(closing.first { $0.segment.flags.contains(.fin) })
        #expect(fin.segment.sequence == serverNext && fin.segment.acknowledgement == clientNext &+ 1)
        self.send(responder, sequence: clientNext &+ 1, ack: serverNext &+ 1, flags: .ack)
        // Gone: a new SYN from the same port opens a fresh connection (the limit is one).
        self.send(responder, sequence: 5000, ack: 0, flags: .syn)
        #expect(try self.replies().first?.segment.flags == [.syn, .ack])
    }

    @Test func beyondTheLimitAndUnknownSegmentsAreReset() throws {
        let responder = self.responder()
        self.send(responder, port: 1, sequence: 1, ack: 0, flags: .syn)
        _ = try self.replies()
        self.send(responder, port: 2, sequence: 1, ack: 0, flags: .syn)
        #expect(try self.replies().first?.segment.flags == [.rst, .ack])
        #expect(responder.statistics.drops(.tcpLimit) == 1)
        self.send(responder, port: 3, sequence: 9, ack: 77, flags: .ack, data: [1])
        let reset = try #require(try self.replies().first?.segment)
        #expect(reset.flags == .rst && reset.sequence == 77)
    }
}
