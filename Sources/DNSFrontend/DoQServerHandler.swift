import CQUIC
import DNSCore
import DNSQUIC
import DNSWire
import NIOCore

/// Serves DNS over QUIC (RFC 9250) on one UDP socket: routes each datagram to its connection by destination
/// connection ID (accepting a client's first Initial as a new one), answers each client stream's query through the
/// pipeline on the same stream (ID 0, two length octets, then FIN), and runs each connection's timers on the
/// channel's event loop.
final class DoQServerHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    /// Sent down the pipeline at shutdown or when the listener is removed: no new connections; each open one is
    /// closed with DOQ_NO_ERROR once its queries are answered and delivered.
    struct Drain {}

    /// DoQ's application error codes (RFC 9250 §4.3).
    enum ErrorCode: UInt64 {
        case noError = 0
        case protocolError = 2
        case requestCancelled = 3
    }

    /// A client's connection and what the listener keeps about it.
    private final class Session {
        let quic: QUICConnection
        /// The endpoint it was accepted with: its TLS session uses that endpoint's certificate and keys.
        let endpoint: QUICServerEndpoint
        /// Every connection ID routed to it now.
        var routedIDs: Set<[UInt8]> = []
        /// Whether the TLS handshake has completed (until then the connection counts against the handshake limit).
        var handshakeCompleted = false
        /// When a query last arrived or an answer was last given, for the idle close.
        var lastActivity = NIODeadline.now()

        init(_ quic: QUICConnection, endpoint: QUICServerEndpoint) {
            self.quic = quic
            self.endpoint = endpoint
        }
    }

    /// Room for one datagram ngtcp2 writes (it keeps to 1,452 bytes and the path's limit).
    static let datagramCapacity = 1_500
    /// Handshakes in progress beyond which a new client must first prove its address with a Retry round trip,
    /// so that abandoned or spoofed handshakes cannot pile up state.
    static let maxHandshakes = 64

    private let certificate: QUICServerCertificate
    private let pipeline: any DNSHandler
    private let listener: Int
    private let queryTimeout: TimeAmount
    private let maxConnections: Int
    private let idleTimeout: TimeAmount
    /// Open connections across the listener's handlers, for shutdown to wait on.
    private let openCount: InFlightCounter
    private var draining = false
    /// Sessions by every connection ID routed to them.
    private var routes: [[UInt8]: Session] = [:]
    /// Every open session, once.
    private var open: [ObjectIdentifier: Session] = [:]
    private var handshaking = 0
    private var idleSweep: Scheduled<Void>?
    private var context: ChannelHandlerContext?
    private var localAddress: SocketAddress?
    private let datagram = UnsafeMutableRawBufferPointer.allocate(byteCount: DoQServerHandler.datagramCapacity,
                                                                  alignment: 8)
    private var needsFlush = false

    init(certificate: QUICServerCertificate, pipeline: any DNSHandler, listener: Int, queryTimeout: TimeAmount,
         maxConnections: Int, idleTimeout: TimeAmount, openCount: InFlightCounter) {
        self.certificate = certificate
        self.pipeline = pipeline
        self.listener = listener
        self.queryTimeout = queryTimeout
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
        self.openCount = openCount
    }

    deinit {
        self.datagram.deallocate()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.localAddress = context.channel.localAddress
        self.scheduleIdleSweep()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.idleSweep?.cancel()
        self.idleSweep = nil
        for session in self.open.values { session.quic.release() }
        self.openCount.subtract(self.open.count)
        self.open = [:]
        self.routes = [:]
        self.context = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is Drain else { return context.fireUserInboundEventTriggered(event) }
        self.draining = true
        for session in self.open.values where session.quic.isIdle {
            self.close(session, code: .noError)
        }
    }

    private func scheduleIdleSweep() {
        guard let context = self.context else { return }
        let interval = TimeAmount.nanoseconds(max(self.idleTimeout.nanoseconds / 4, 100_000_000))
        self.idleSweep = context.eventLoop.assumeIsolated().scheduleTask(in: interval) {
            self.closeIdleSessions()
            self.scheduleIdleSweep()
        }
    }

    /// RFC 9250 §5.5: connections with nothing open for the idle timeout are closed with DOQ_NO_ERROR (QUIC's own
    /// idle timeout, twice as long, would end them silently).
    private func closeIdleSessions() {
        let cutoff = NIODeadline.now() - self.idleTimeout
        for session in self.open.values where session.quic.isIdle && session.lastActivity <= cutoff {
            self.close(session, code: .noError)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = self.unwrapInboundIn(data)
        envelope.data.withUnsafeReadableBytes { packet in
            self.receive(packet, from: envelope.remoteAddress)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.flushIfNeeded()
        context.fireChannelReadComplete()
    }

    private func receive(_ packet: UnsafeRawBufferPointer, from remote: SocketAddress) {
        guard let bytes = packet.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
        var id = [UInt8](repeating: 0, count: 20)
        var idLength = 0
        switch cquic_packet_dcid(bytes, packet.count, &id, &idLength) {
        case CQUIC_PACKET_OK:
            if let session = self.routes[Array(id[..<idLength])] {
                self.read(packet, from: remote, into: session)
            } else {
                self.accept(packet, from: remote)
            }
        case CQUIC_PACKET_VERSION_NEGOTIATION:
            let length = cquic_write_version_negotiation(bytes, packet.count, self.output, self.datagram.count)
            if length > 0 { self.emit(length, to: remote) }
        default:
            return
        }
    }

    private var output: UnsafeMutablePointer<UInt8> {
        self.datagram.baseAddress!.assumingMemoryBound(to: UInt8.self)
    }

    private func accept(_ packet: UnsafeRawBufferPointer, from remote: SocketAddress) {
        guard !self.draining, self.open.count < self.maxConnections, let local = self.localAddress,
            let bytes = packet.baseAddress?.assumingMemoryBound(to: UInt8.self)
        else { return }
        let quic = QUICConnection(remote: remote)
        let endpoint = self.certificate.current
        let validateAddress: Int32 = self.handshaking >= Self.maxHandshakes ? 1 : 0
        var sendRetry: Int32 = 0
        let accepted = QUICConnection.withAddresses(local: local, remote: remote) { local, localLength, remote, remoteLength in
            withUnsafePointer(to: QUICConnection.events) { events in
                cquic_accept(endpoint.pointer, bytes, packet.count, local, localLength, remote, remoteLength,
                             events, quic.userPointer, cquic_now(), validateAddress, &sendRetry)
            }
        }
        guard let accepted else {
            guard sendRetry != 0 else { return }
            let length = remote.withSockAddr { address, addressLength in
                cquic_write_retry(endpoint.pointer, bytes, packet.count, address, socklen_t(addressLength),
                                  self.output, self.datagram.count, cquic_now())
            }
            if length > 0 { self.emit(length, to: remote) }
            return
        }
        quic.attach(accepted)
        let session = Session(quic, endpoint: endpoint)
        self.open[ObjectIdentifier(session)] = session
        self.openCount.add(1)
        self.handshaking += 1
        self.route(session)
        self.read(packet, from: remote, into: session)
    }

    private func read(_ packet: UnsafeRawBufferPointer, from remote: SocketAddress, into session: Session) {
        guard let local = self.localAddress else { return }
        let status = session.quic.read(packet, local: local, remote: remote)
        self.route(session)
        if !session.handshakeCompleted, session.quic.handshakeCompleted {
            session.handshakeCompleted = true
            self.handshaking -= 1
        }
        switch status {
        case CQUIC_OK, CQUIC_DISCARDED:
            self.progress(session)
        case CQUIC_GONE:
            self.drop(session)
        default:
            self.close(session, code: nil)
        }
    }

    /// Routes the connection IDs the connection took, and stops routing those it gave up.
    private func route(_ session: Session) {
        for id in session.quic.addedIDs {
            self.routes[id] = session
            session.routedIDs.insert(id)
        }
        for id in session.quic.removedIDs where self.routes[id] === session {
            self.routes[id] = nil
            session.routedIDs.remove(id)
        }
        session.quic.addedIDs = []
        session.quic.removedIDs = []
    }

    /// After a packet: resets what the client abandoned, answers complete queries, sends, re-arms the timer.
    private func progress(_ session: Session) {
        for stream in session.quic.resetStreams {
            session.quic.reset(stream, code: ErrorCode.requestCancelled.rawValue)
        }
        session.quic.resetStreams = []
        let complete = session.quic.finishedStreams
        session.quic.finishedStreams = []
        if !complete.isEmpty { session.lastActivity = .now() }
        for (stream, query) in complete where session.quic.pointer != nil {
            self.answer(query, on: stream, of: session)
        }
        self.send(session)
    }

    private func answer(_ query: [UInt8], on stream: Int64, of session: Session) {
        guard session.quic.isOpen(stream), let context = self.context else { return }
        // Two length octets, then exactly that much message, with ID 0 (RFC 9250 §4.2, §4.2.1).
        guard query.count >= 4, Int(query[0]) << 8 | Int(query[1]) == query.count - 2, query[2] == 0, query[3] == 0
        else { return self.close(session, code: .protocolError) }
        let message = ByteBuffer(bytes: query[2...])
        let metadata = DNSRequestMetadata(client: session.quic.remote, transport: .doq, listener: self.listener)
        switch QueryIntake(message: message, metadata: metadata, deadline: .now() + self.queryTimeout) {
        case .drop:
            self.close(session, code: .protocolError)
        case .reply(let reply):
            self.respond(reply, on: stream, of: session)
        case .request(let request):
            switch self.pipeline.begin(request) {
            case .answered(let response):
                self.respond(EncryptedAnswerPadding.apply(response.message, for: request), on: stream, of: session)
            case .pending(let pending):
                pending.finish(on: context.eventLoop).assumeIsolated().whenComplete { result in
                    let message = (try? result.get())?.message ?? DNSResponse.error(.servFail, for: request).message
                    guard session.quic.pointer != nil else { return }
                    self.respond(EncryptedAnswerPadding.apply(message, for: request), on: stream, of: session)
                    self.send(session)
                    self.flushIfNeeded()
                }
            }
        }
    }

    /// Puts `message` on `stream` as its answer; an empty one (a client configured to get nothing) cancels the
    /// stream instead.
    private func respond(_ message: ByteBuffer, on stream: Int64, of session: Session) {
        guard message.readableBytes > 0 else {
            session.quic.reset(stream, code: ErrorCode.requestCancelled.rawValue)
            return
        }
        var framed = ByteBuffer()
        framed.reserveCapacity(message.readableBytes + 2)
        framed.writeLengthPrefixedDNSMessage(message)
        if session.quic.send(framed, on: stream) { session.lastActivity = .now() }
    }

    /// Writes what the connection can send now and re-arms its timer; a draining listener closes it once idle.
    private func send(_ session: Session) {
        guard session.quic.flush(scratch: self.datagram, emit: { self.emit($0, to: session.quic.remote) }) else {
            return self.close(session, code: nil)
        }
        if self.draining, session.quic.isIdle { return self.close(session, code: .noError) }
        guard let context = self.context else { return }
        session.quic.armTimer(on: context.eventLoop) { self.expire(session) }
    }

    private func expire(_ session: Session) {
        switch session.quic.handleExpiry() {
        case CQUIC_OK:
            self.send(session)
            self.flushIfNeeded()
        case CQUIC_GONE:
            self.drop(session)
        default:
            self.close(session, code: nil)
        }
    }

    private func emit(_ length: Int, to remote: SocketAddress) {
        guard let context = self.context else { return }
        var buffer = context.channel.allocator.buffer(capacity: length)
        buffer.writeBytes(UnsafeRawBufferPointer(rebasing: self.datagram[..<length]))
        context.write(self.wrapOutboundOut(AddressedEnvelope(remoteAddress: remote, data: buffer)), promise: nil)
        self.needsFlush = true
    }

    private func flushIfNeeded() {
        guard self.needsFlush, let context = self.context else { return }
        self.needsFlush = false
        context.flush()
    }

    /// Closes the connection with a CONNECTION_CLOSE: DoQ error `code`, or the transport or TLS error that failed
    /// it when `code` is nil.
    private func close(_ session: Session, code: ErrorCode?) {
        let length = session.quic.closePacket(code: code?.rawValue, scratch: self.datagram)
        if length > 0 { self.emit(length, to: session.quic.remote) }
        self.flushIfNeeded()
        self.drop(session)
    }

    /// Forgets the connection: no more routing, timers or C state.
    private func drop(_ session: Session) {
        guard session.quic.pointer != nil else { return }
        for id in session.routedIDs where self.routes[id] === session {
            self.routes[id] = nil
        }
        session.routedIDs = []
        session.quic.release()
        self.open[ObjectIdentifier(session)] = nil
        self.openCount.decrement()
        if !session.handshakeCompleted { self.handshaking -= 1 }
    }
}
