public import DNSCore
import DNSWire
public import NIOCore
import Synchronization

/// Answers DNS queries addressed to the virtual resolver addresses, straight from IP packets: UDP (with
/// checksums checked, fragmented queries reassembled and fragmented replies), DNS over TCP through a minimal TCP
/// endpoint, and ICMP echo. Replies go to `output` (the TUN device), never to the pass-through path. Packets are
/// copied off the reader thread in batches and handled on one event loop, which owns all the state.
public final class DNSPacketResponder: PacketSink {
    private let pipeline: any DNSHandler
    private let eventLoop: any EventLoop
    private let queryTimeout: TimeAmount
    private let inbox = Mutex<[[UInt8]]>([])
    private let state: NIOLoopBoundBox<State>
    public let statistics: PacketStatistics

    /// Everything the responder changes, confined to its event loop.
    final class State {
        var builder: PacketBuilder
        var reassembler = FragmentReassembler()
        let tcp: TCPEndpoint
        let output: any PacketSink
        let eventLoop: any EventLoop

        init(mtu: Int, output: any PacketSink, maxTCPConnections: Int, tcpIdleTimeout: TimeAmount,
             eventLoop: any EventLoop) {
            self.builder = PacketBuilder(mtu: mtu)
            self.output = output
            self.eventLoop = eventLoop
            self.tcp = TCPEndpoint(maxConnections: maxTCPConnections, idleTimeout: tcpIdleTimeout)
        }

        func write(_ packets: [[UInt8]]) {
            for packet in packets { packet.withUnsafeBytes { self.output.receive($0) } }
        }
    }

    public init(pipeline: any DNSHandler, eventLoop: any EventLoop, mtu: Int, output: any PacketSink,
                queryTimeout: TimeAmount = .seconds(5), maxTCPConnections: Int = 256,
                tcpIdleTimeout: TimeAmount = .seconds(10), statistics: PacketStatistics = PacketStatistics()) {
        self.pipeline = pipeline
        self.eventLoop = eventLoop
        self.queryTimeout = queryTimeout
        self.statistics = statistics
        self.state = NIOLoopBoundBox.makeBoxSendingValue(
            State(mtu: mtu, output: output, maxTCPConnections: maxTCPConnections, tcpIdleTimeout: tcpIdleTimeout,
                  eventLoop: eventLoop),
            as: State.self, eventLoop: eventLoop)
    }

    /// Copies `packet` and schedules its handling; one event loop task drains every packet queued meanwhile.
    public func receive(_ packet: UnsafeRawBufferPointer) {
        let copy = [UInt8](packet)
        let first = self.inbox.withLock { inbox in
            inbox.append(copy)
            return inbox.count == 1
        }
        guard first else { return }
        self.eventLoop.execute {
            let batch = self.inbox.withLock { inbox in
                defer { inbox.removeAll(keepingCapacity: true) }
                return inbox
            }
            for packet in batch { self.handle(packet) }
        }
    }

    /// Handles one packet; on the event loop.
    func handle(_ bytes: [UInt8]) {
        let state = self.state.value
        let now = Int64(self.eventLoop.now.uptimeNanoseconds)
        bytes.withUnsafeBytes { raw in
            let packet: IPPacket
            do throws(PacketDropReason) {
                packet = try IPPacket(raw)
            } catch {
                return self.statistics.dropped(error)
            }
            let payload = UnsafeRawBufferPointer(rebasing: raw[packet.payloadOffset..<packet.payloadOffset + packet.payloadLength])
            if let fragment = packet.fragment, fragment.offset != 0 || fragment.moreFragments {
                switch state.reassembler.add(payload, of: packet, fragment: fragment, now: now) {
                case .complete(let whole): whole.withUnsafeBytes { self.handleUpperLayer(packet, $0, state: state) }
                case .waiting: break
                case .dropped(let reason): self.statistics.dropped(reason)
                }
                return
            }
            self.handleUpperLayer(packet, payload, state: state)
        }
    }

    private func handleUpperLayer(_ packet: IPPacket, _ payload: UnsafeRawBufferPointer, state: State) {
        switch packet.nextProtocol {
        case IPPacket.udp:
            self.handleUDP(packet, payload, state: state)
        case IPPacket.tcp:
            state.tcp.receive(packet, payload, responder: self, state: state)
        case IPPacket.icmp where packet.isIPv4, IPPacket.icmpv6 where !packet.isIPv4:
            guard let reply = state.builder.echoReply(to: payload, from: packet.destination, to: packet.source) else {
                // Not an echo request (router solicitations and the like are not ours to answer).
                return self.statistics.dropped(.unsupported)
            }
            self.statistics.count(self.statistics.handled)
            state.write(reply)
        default:
            self.statistics.dropped(.unsupported)
        }
    }

    private func handleUDP(_ packet: IPPacket, _ datagram: UnsafeRawBufferPointer, state: State) {
        guard datagram.count >= 8 else { return self.statistics.dropped(.malformed) }
        let sourcePort = UInt16(datagram[0]) << 8 | UInt16(datagram[1])
        let destinationPort = UInt16(datagram[2]) << 8 | UInt16(datagram[3])
        let length = Int(datagram[4]) << 8 | Int(datagram[5])
        let checksum = UInt16(datagram[6]) << 8 | UInt16(datagram[7])
        guard length >= 8, length <= datagram.count else { return self.statistics.dropped(.malformed) }
        let udp = UnsafeRawBufferPointer(rebasing: datagram[0..<length])
        if checksum != 0 || !packet.isIPv4 {
            // Zero means "no checksum" in IPv4 only; over IPv6 it is invalid (RFC 8200 §8.1).
            var verify = InternetChecksum()
            verify.addPseudoHeader(source: packet.source, destination: packet.destination, protocol: IPPacket.udp,
                                   length: length)
            verify.add(udp)
            guard checksum != 0, verify.value == 0 else { return self.statistics.dropped(.badChecksum) }
        }
        guard destinationPort == 53 else { return self.statistics.dropped(.unsupported) }
        let message = ByteBuffer(bytes: UnsafeRawBufferPointer(rebasing: udp[8...]))
        let client = try? SocketAddress(ipAddress: "\(packet.source)", port: Int(sourcePort))
        self.answer(message, client: client, transport: .tun) { response, request in
            guard let reply = response?.dnsFitted(toUDPSize: request?.maxUDPResponseSize ?? 512) else { return }
            let packets = reply.withUnsafeReadableBytes { bytes in
                state.builder.udp(from: packet.destination, port: destinationPort, to: packet.source, port: sourcePort,
                                  payload: bytes)
            }
            self.statistics.count(self.statistics.handled)
            state.write(packets)
        }
    }

    /// Runs `message` through the intake and the pipeline and calls `reply` once, on the event loop, with the
    /// answer (nil for a message that gets none) and the request, when the message was one.
    func answer(_ message: ByteBuffer, client: SocketAddress?, transport: DNSTransport,
                reply: @escaping (ByteBuffer?, DNSRequest?) -> Void) {
        let metadata = DNSRequestMetadata(client: client, transport: transport)
        switch QueryIntake(message: message, metadata: metadata, deadline: .now() + self.queryTimeout) {
        case .drop:
            self.statistics.dropped(.notAQuery)
            reply(nil, nil)
        case .reply(let error):
            reply(error, nil)
        case .request(let request):
            let pending: DNSPendingQuery
            switch self.pipeline.begin(request) {
            case .answered(let response): return reply(response.isSilent ? nil : response.message, request)
            case .pending(let query): pending = query
            }
            pending.finish(on: self.eventLoop).assumeIsolated().whenComplete { result in
                switch result {
                case .success(let response): reply(response.isSilent ? nil : response.message, request)
                case .failure: reply(DNSResponse.error(.servFail, for: request).message, request)
                }
            }
        }
    }
}
