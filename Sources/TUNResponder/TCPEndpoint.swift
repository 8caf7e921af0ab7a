import DNSCore
import NIOCore

/// A minimal TCP endpoint for DNS over TCP to the virtual addresses (RFC 7766): three-way handshake, in-order
/// delivery (a segment that is not the next expected one is answered with a duplicate ACK and dropped, so the
/// client retransmits), length-prefixed queries answered in order of completion, retransmission of unacknowledged
/// data and FIN on a timer with exponential back-off, FIN and RST handling, an idle timeout, and a bound on
/// connections (a SYN beyond it is reset). Confined to the responder's event loop.
final class TCPEndpoint {
    /// A connection's state (RFC 9293 §3.3.2, the passive side only): `synReceived` → `established` (the client's
    /// ACK) → `closeWait` (the client's FIN) → `lastAck` (every answer sent, then our FIN) → gone (our FIN
    /// acknowledged). A retransmitted FIN goes back through `closeWait`; a RST or the idle timeout ends any state.
    enum ConnectionState: Equatable {
        /// Our SYN-ACK is out; the client's ACK has not come.
        case synReceived
        case established
        /// The client has sent FIN; what it asked is still being answered.
        case closeWait
        /// Our FIN is out and not yet acknowledged.
        case lastAck
    }

    private struct Key: Hashable {
        var client: IPAddress
        var clientPort: UInt16
        var local: IPAddress
        var localPort: UInt16
    }

    private final class Connection {
        let key: Key
        var receiveNext: UInt32
        /// First byte not yet acknowledged by the client, and the next byte to send.
        var sendUnacknowledged: UInt32
        var sendNext: UInt32
        /// Bytes from `sendUnacknowledged` on: sent-but-unacknowledged, then not yet sent.
        var outgoing: [UInt8] = []
        var incoming: [UInt8] = []
        var state = ConnectionState.synReceived
        var queriesInFlight = 0
        var peerWindow = 65_535
        let segmentSize: Int
        var retransmitAt: NIODeadline?
        var backoff = TCPEndpoint.initialRetransmit
        var retries = 0
        var lastActivity: NIODeadline

        init(key: Key, clientSequence: UInt32, initialSequence: UInt32, segmentSize: Int, now: NIODeadline) {
            self.key = key
            self.receiveNext = clientSequence &+ 1
            self.sendUnacknowledged = initialSequence
            self.sendNext = initialSequence &+ 1
            self.segmentSize = segmentSize
            self.lastActivity = now
        }
    }

    static let initialRetransmit = TimeAmount.milliseconds(250)
    static let maxRetries = 6
    let maxConnections: Int
    /// A connection with nothing in flight and no segment for this long is reset (`tcp.idle_timeout`).
    let idleTimeout: TimeAmount
    private var connections: [Key: Connection] = [:]
    private var ticking = false

    init(maxConnections: Int, idleTimeout: TimeAmount) {
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
    }

    var count: Int { self.connections.count }

    func receive(_ packet: IPPacket, _ bytes: UnsafeRawBufferPointer, responder: DNSPacketResponder,
                 state: DNSPacketResponder.State) {
        let segment: TCPSegment
        do throws(PacketDropReason) {
            segment = try TCPSegment(bytes, in: packet)
        } catch {
            return responder.statistics.dropped(error)
        }
        let key = Key(client: packet.source, clientPort: segment.sourcePort, local: packet.destination,
                      localPort: segment.destinationPort)
        let now = state.eventLoop.now
        guard let connection = self.connections[key] else {
            return self.open(key, segment, packet: packet, responder: responder, state: state, now: now)
        }
        connection.lastActivity = now
        if segment.flags.contains(.rst) {
            self.connections[key] = nil
            return
        }
        if segment.flags.contains(.syn) {
            // A retransmitted SYN: our SYN-ACK was lost.
            if connection.state == .synReceived { self.sendSynAck(connection, state: state) }
            return
        }
        guard segment.flags.contains(.ack) else { return }
        self.acknowledge(connection, upTo: segment.acknowledgement, window: segment.window, now: now)
        if segment.dataLength > 0 || segment.flags.contains(.fin) {
            guard segment.sequence == connection.receiveNext else {
                // Out of order or a duplicate: tell the client what comes next.
                self.send(connection, flags: .ack, state: state)
                return
            }
            if segment.dataLength > 0 {
                connection.incoming.append(contentsOf: bytes[segment.dataOffset...])
                connection.receiveNext &+= UInt32(segment.dataLength)
            }
            if segment.flags.contains(.fin) {
                connection.receiveNext &+= 1
                if connection.state == .established { connection.state = .closeWait }
            }
            self.send(connection, flags: .ack, state: state)
            self.takeQueries(connection, responder: responder, state: state)
        }
        self.pump(connection, state: state, now: now)
        if connection.state == .lastAck, connection.sendUnacknowledged == connection.sendNext {
            self.connections[key] = nil
        }
    }

    private func open(_ key: Key, _ segment: TCPSegment, packet: IPPacket, responder: DNSPacketResponder,
                      state: DNSPacketResponder.State, now: NIODeadline) {
        guard segment.flags.contains(.syn), !segment.flags.contains(.ack), !segment.flags.contains(.rst) else {
            // No such connection: reset, unless this is itself a reset (RFC 9293 §3.10.7.1).
            guard !segment.flags.contains(.rst) else { return }
            let reset = segment.flags.contains(.ack)
                ? TCPSegment(sourcePort: key.localPort, destinationPort: key.clientPort,
                             sequence: segment.acknowledgement, acknowledgement: 0, flags: .rst, window: 0)
                : TCPSegment(sourcePort: key.localPort, destinationPort: key.clientPort, sequence: 0,
                             acknowledgement: segment.sequence &+ UInt32(segment.dataLength)
                                 &+ (segment.flags.contains(.fin) ? 1 : 0),
                             flags: [.rst, .ack], window: 0)
            return state.write(state.builder.ip(from: key.local, to: key.client, protocol: IPPacket.tcp,
                                                payload: reset.encoded(data: [], from: key.local, to: key.client)))
        }
        guard key.localPort == 53, self.connections.count < self.maxConnections else {
            responder.statistics.dropped(key.localPort == 53 ? .tcpLimit : .unsupported)
            let reset = TCPSegment(sourcePort: key.localPort, destinationPort: key.clientPort, sequence: 0,
                                   acknowledgement: segment.sequence &+ 1, flags: [.rst, .ack], window: 0)
            return state.write(state.builder.ip(from: key.local, to: key.client, protocol: IPPacket.tcp,
                                                payload: reset.encoded(data: [], from: key.local, to: key.client)))
        }
        let headers = key.local.isIPv4 ? 40 : 60
        let ourLimit = state.builder.mtu - headers
        let segmentSize = max(64, min(ourLimit, Int(segment.maximumSegmentSize ?? 536)))
        let connection = Connection(key: key, clientSequence: segment.sequence,
                                    initialSequence: UInt32.random(in: 0...UInt32.max), segmentSize: segmentSize,
                                    now: now)
        connection.peerWindow = Int(segment.window)
        self.connections[key] = connection
        self.sendSynAck(connection, state: state)
        self.startTimer(state: state)
    }

    private func sendSynAck(_ connection: Connection, state: DNSPacketResponder.State) {
        let key = connection.key
        let headers = key.local.isIPv4 ? 40 : 60
        let synAck = TCPSegment(sourcePort: key.localPort, destinationPort: key.clientPort,
                                sequence: connection.sendUnacknowledged, acknowledgement: connection.receiveNext,
                                flags: [.syn, .ack], maximumSegmentSize: UInt16(state.builder.mtu - headers))
        state.write(state.builder.ip(from: key.local, to: key.client, protocol: IPPacket.tcp,
                                     payload: synAck.encoded(data: [], from: key.local, to: key.client)))
        connection.retransmitAt = state.eventLoop.now + connection.backoff
    }

    private func acknowledge(_ connection: Connection, upTo acknowledgement: UInt32, window: UInt16, now: NIODeadline) {
        connection.peerWindow = Int(window)
        guard connection.sendUnacknowledged.precedes(acknowledgement),
            !connection.sendNext.precedes(acknowledgement)
        else { return }
        var advanced = Int(acknowledgement &- connection.sendUnacknowledged)
        if connection.state == .synReceived {
            connection.state = .established
            advanced -= 1  // our SYN
        }
        let dataAcknowledged = min(advanced, connection.outgoing.count)
        connection.outgoing.removeFirst(dataAcknowledged)
        connection.sendUnacknowledged = acknowledgement
        connection.backoff = Self.initialRetransmit
        connection.retries = 0
        connection.retransmitAt = connection.sendUnacknowledged == connection.sendNext ? nil : now + connection.backoff
    }

    /// Takes every complete length-prefixed query out of the receive buffer and answers it.
    private func takeQueries(_ connection: Connection, responder: DNSPacketResponder, state: DNSPacketResponder.State) {
        while connection.incoming.count >= 2 {
            let length = Int(connection.incoming[0]) << 8 | Int(connection.incoming[1])
            guard connection.incoming.count >= 2 + length else { break }
            let message = ByteBuffer(bytes: connection.incoming[2..<2 + length])
            connection.incoming.removeFirst(2 + length)
            connection.queriesInFlight += 1
            let client = try? SocketAddress(ipAddress: "\(connection.key.client)", port: Int(connection.key.clientPort))
            responder.answer(message, client: client, transport: .tun) { reply, _ in
                connection.queriesInFlight -= 1
                guard self.connections[connection.key] === connection else { return }
                guard let reply, reply.readableBytes <= 65_535 else {
                    return self.pump(connection, state: state, now: state.eventLoop.now)
                }
                connection.outgoing.append(UInt8(reply.readableBytes >> 8))
                connection.outgoing.append(UInt8(reply.readableBytes & 0xFF))
                connection.outgoing.append(contentsOf: reply.readableBytesView)
                self.pump(connection, state: state, now: state.eventLoop.now)
            }
        }
    }

    /// Sends what the window allows, then our FIN once the client has finished and everything is answered.
    private func pump(_ connection: Connection, state: DNSPacketResponder.State, now: NIODeadline) {
        guard connection.state != .synReceived else { return }
        var inFlight = Int(connection.sendNext &- connection.sendUnacknowledged)
        while inFlight < connection.outgoing.count, inFlight < connection.peerWindow {
            let size = min(connection.segmentSize, connection.outgoing.count - inFlight,
                           connection.peerWindow - inFlight)
            self.send(connection, flags: [.ack, .psh], data: connection.outgoing[inFlight..<inFlight + size],
                      sequence: connection.sendNext, state: state)
            connection.sendNext &+= UInt32(size)
            inFlight += size
            if connection.retransmitAt == nil { connection.retransmitAt = now + connection.backoff }
        }
        if connection.state == .closeWait, connection.queriesInFlight == 0, inFlight == connection.outgoing.count {
            self.send(connection, flags: [.fin, .ack], sequence: connection.sendNext, state: state)
            connection.sendNext &+= 1
            connection.state = .lastAck
            connection.retransmitAt = now + connection.backoff
        }
    }

    private func send(_ connection: Connection, flags: TCPSegment.Flags, data: ArraySlice<UInt8> = [],
                      sequence: UInt32? = nil, state: DNSPacketResponder.State) {
        let key = connection.key
        let segment = TCPSegment(sourcePort: key.localPort, destinationPort: key.clientPort,
                                 sequence: sequence ?? connection.sendNext, acknowledgement: connection.receiveNext,
                                 flags: flags)
        state.write(state.builder.ip(from: key.local, to: key.client, protocol: IPPacket.tcp,
                                     payload: segment.encoded(data: data, from: key.local, to: key.client)))
    }

    /// Ticks every 50 ms while there are connections.
    private func startTimer(state: DNSPacketResponder.State) {
        guard !self.ticking else { return }
        self.ticking = true
        state.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(50)) {
            self.ticking = false
            self.tick(state: state)
            if !self.connections.isEmpty { self.startTimer(state: state) }
        }
    }

    /// Retransmits what is overdue (go-back-N from the first unacknowledged byte) and drops dead connections.
    private func tick(state: DNSPacketResponder.State) {
        let now = state.eventLoop.now
        for (key, connection) in self.connections {
            if connection.queriesInFlight == 0, now - connection.lastActivity > self.idleTimeout {
                self.send(connection, flags: [.rst, .ack], state: state)
                self.connections[key] = nil
                continue
            }
            guard let due = connection.retransmitAt, due <= now else { continue }
            connection.retries += 1
            guard connection.retries <= Self.maxRetries else {
                self.send(connection, flags: [.rst, .ack], sequence: connection.sendNext, state: state)
                self.connections[key] = nil
                continue
            }
            connection.backoff = connection.backoff * 2
            if connection.state == .synReceived {
                self.sendSynAck(connection, state: state)
                continue
            }
            connection.sendNext = connection.sendUnacknowledged
            // Go-back-N resends the FIN too, from closeWait.
            if connection.state == .lastAck { connection.state = .closeWait }
            connection.retransmitAt = nil
            self.pump(connection, state: state, now: now)
        }
    }
}
