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

    private func responder(_ pipeline: any DNSHandler = EchoHandler(answerCount: 1),
                           idleTimeout: TimeAmount = .seconds(10)) -> DNSPacketResponder {
        DNSPacketResponder(pipeline: pipeline, eventLoop: self.loop, mtu: 1500, output: self.output,
                           maxTCPConnections: 1, tcpIdleTimeout: idleTimeout)
    }

    /// A framed query for `name`.
    private func framedQuery(_ name: String, id: UInt16) -> [UInt8] {
        let query = Array(DNSMessage.query(DNSName(name) ?? .root, .a, id: id).encoded().readableBytesView)
        return [UInt8(query.count >> 8), UInt8(query.count & 0xFF)] + query
    }

    /// Opens a connection from `port` (SYN, SYN-ACK, ACK); returns the server's next sequence number.
    private func establish(_ responder: DNSPacketResponder, port: UInt16 = 40001, clientSequence: UInt32 = 1000) throws
        -> UInt32
    {
        self.send(responder, port: port, sequence: clientSequence, ack: 0, flags: .syn)
        let synAck = try #require(try self.replies().first?.segment)
        self.send(responder, port: port, sequence: clientSequence &+ 1, ack: synAck.sequence &+ 1, flags: .ack)
        return synAck.sequence &+ 1
    }

    /// synReceived: a SYN-ACK that is not acknowledged is sent again; the client's retransmitted SYN gets it at once.
    @Test func synReceivedSendsItsSynAckAgainUntilAcknowledged() throws {
        let responder = self.responder()
        self.send(responder, sequence: 1000, ack: 0, flags: .syn)
        let first = try #require(try self.replies().first?.segment)
        self.loop.advanceTime(by: .milliseconds(300))
        let again = try #require(try self.replies().first?.segment)
        #expect(again.flags == [.syn, .ack] && again.sequence == first.sequence)
        self.send(responder, sequence: 1000, ack: 0, flags: .syn)
        #expect(try self.replies().first?.segment.flags == [.syn, .ack])
        self.send(responder, sequence: 1001, ack: first.sequence &+ 1, flags: .ack)
        self.loop.advanceTime(by: .seconds(1))
        #expect(try self.replies().isEmpty, "established: nothing left to retransmit")
    }

    /// established → closeWait: the client's FIN with a query still being answered gets no FIN back until the
    /// answer has gone out; then lastAck, and the ACK of our FIN ends the connection.
    @Test func closeWaitAnswersWhatIsInFlightBeforeItsFIN() throws {
        let held = HeldHandler()
        let responder = self.responder(held)
        let server = try self.establish(responder)
        let query = self.framedQuery("wait.test", id: 11)
        self.send(responder, sequence: 1001, ack: server, flags: [.ack, .psh, .fin], data: query)
        let finAcked = try self.replies()
        #expect(finAcked.allSatisfy { !$0.segment.flags.contains(.fin) }, "closeWait: no FIN while answering")
        #expect(finAcked.last?.segment.acknowledgement == 1001 &+ UInt32(query.count) &+ 1)
        held.complete { DNSResponse.error(.noError, for: $0) }
        self.loop.run()
        let closing = try self.replies()
        let answer = try #require(closing.first { !$0.data.isEmpty })
        let fin = try #require(closing.first { $0.segment.flags.contains(.fin) }, "lastAck: FIN after the answer")
        #expect(fin.segment.sequence == server &+ UInt32(answer.data.count))
        let clientNext = 1001 &+ UInt32(query.count) &+ 1
        self.send(responder, sequence: clientNext, ack: fin.segment.sequence &+ 1, flags: .ack)
        // Gone: the limit is one connection, and another port is let in.
        self.send(responder, port: 40002, sequence: 9000, ack: 0, flags: .syn)
        #expect(try self.replies().first?.segment.flags == [.syn, .ack])
    }

    /// lastAck: a FIN that is not acknowledged is sent again (back through closeWait) until it is.
    @Test func lastAckSendsItsFINAgainUntilAcknowledged() throws {
        let responder = self.responder()
        let server = try self.establish(responder)
        self.send(responder, sequence: 1001, ack: server, flags: [.ack, .fin])
        let fin = try #require(try self.replies().first { $0.segment.flags.contains(.fin) })
        self.loop.advanceTime(by: .milliseconds(300))
        let again = try #require(try self.replies().first { $0.segment.flags.contains(.fin) })
        #expect(again.segment.sequence == fin.segment.sequence)
        self.send(responder, sequence: 1002, ack: server &+ 1, flags: .ack)
        self.send(responder, port: 40002, sequence: 9000, ack: 0, flags: .syn)
        #expect(try self.replies().first?.segment.flags == [.syn, .ack], "the FIN's ACK ended the connection")
    }

    /// A RST ends a connection in any state, with nothing sent back.
    @Test(arguments: [false, true]) func aResetEndsTheConnection(established: Bool) throws {
        let responder = self.responder()
        if established {
            let server = try self.establish(responder)
            self.send(responder, sequence: 1001, ack: server, flags: .rst)
        } else {
            self.send(responder, sequence: 1000, ack: 0, flags: .syn)
            _ = try self.replies()
            self.send(responder, sequence: 1001, ack: 0, flags: .rst)
        }
        #expect(try self.replies().isEmpty)
        self.send(responder, port: 40002, sequence: 9000, ack: 0, flags: .syn)
        #expect(try self.replies().first?.segment.flags == [.syn, .ack], "the slot is free")
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
