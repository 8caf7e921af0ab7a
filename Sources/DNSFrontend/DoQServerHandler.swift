import CQUIC
import DNSCore
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

    /// Room for one datagram ngtcp2 writes (it keeps to 1,452 bytes and the path's limit).
    static let datagramCapacity = 1_500
    /// Handshakes in progress beyond which a new client must first prove its address with a Retry round trip,
    /// so that abandoned or spoofed handshakes cannot pile up state.
    static let maxHandshakes = 64

    private let endpoint: QUICServerEndpoint
    private let pipeline: any DNSHandler
    private let listener: Int
    private let queryTimeout: TimeAmount
    private let maxConnections: Int
    private let idleTimeout: TimeAmount
    /// Open connections across the listener's handlers, for shutdown to wait on.
    private let openCount: InFlightCounter
    private var draining = false
    /// Connections by every connection ID routed to them.
    private var connections: [[UInt8]: DoQConnection] = [:]
    /// Every open connection, once.
    private var open: [ObjectIdentifier: DoQConnection] = [:]
    private var handshaking = 0
    private var idleSweep: Scheduled<Void>?
    private var context: ChannelHandlerContext?
    private var localAddress: SocketAddress?
    private let datagram = UnsafeMutableRawBufferPointer.allocate(byteCount: DoQServerHandler.datagramCapacity,
                                                                  alignment: 8)
    private var needsFlush = false

    init(endpoint: QUICServerEndpoint, pipeline: any DNSHandler, listener: Int, queryTimeout: TimeAmount,
         maxConnections: Int, idleTimeout: TimeAmount, openCount: InFlightCounter) {
        self.endpoint = endpoint
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

    private func scheduleIdleSweep() {
        guard let context = self.context else { return }
        let interval = TimeAmount.nanoseconds(max(self.idleTimeout.nanoseconds / 4, 100_000_000))
        self.idleSweep = context.eventLoop.assumeIsolated().scheduleTask(in: interval) {
            self.closeIdleConnections()
            self.scheduleIdleSweep()
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.idleSweep?.cancel()
        self.idleSweep = nil
        for connection in self.open.values { connection.release() }
        self.openCount.subtract(self.open.count)
        self.open = [:]
        self.connections = [:]
        self.context = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is Drain else { return context.fireUserInboundEventTriggered(event) }
        self.draining = true
        for connection in self.open.values where connection.isIdle {
            self.fail(connection, code: .noError)
        }
    }

    /// RFC 9250 §5.5: connections with nothing open for the idle timeout are closed with DOQ_NO_ERROR (QUIC's own
    /// idle timeout, twice as long, would end them silently).
    private func closeIdleConnections() {
        let cutoff = NIODeadline.now() - self.idleTimeout
        for connection in self.open.values where connection.isIdle && connection.lastActivity <= cutoff {
            self.fail(connection, code: .noError)
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
            if let connection = self.connections[Array(id[..<idLength])] {
                self.read(packet, from: remote, into: connection)
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

    /// Calls `body` with the listener's address and `remote` as C socket addresses.
    private func withAddresses<Result>(
        _ remote: SocketAddress,
        _ body: (UnsafePointer<sockaddr>, socklen_t, UnsafePointer<sockaddr>, socklen_t) -> Result
    ) -> Result? {
        guard let local = self.localAddress else { return nil }
        return local.withSockAddr { local, localLength in
            remote.withSockAddr { remote, remoteLength in
                body(local, socklen_t(localLength), remote, socklen_t(remoteLength))
            }
        }
    }

    private func accept(_ packet: UnsafeRawBufferPointer, from remote: SocketAddress) {
        guard !self.draining, self.open.count < self.maxConnections, let bytes = packet.baseAddress?.assumingMemoryBound(to: UInt8.self)
        else { return }
        let connection = DoQConnection(remote: remote)
        let user = Unmanaged.passUnretained(connection).toOpaque()
        let validateAddress: Int32 = self.handshaking >= Self.maxHandshakes ? 1 : 0
        var sendRetry: Int32 = 0
        let accepted = self.withAddresses(remote) { local, localLength, remote, remoteLength in
            withUnsafePointer(to: DoQConnection.events) { events in
                cquic_accept(self.endpoint.pointer, bytes, packet.count, local, localLength, remote, remoteLength,
                             events, user, cquic_now(), validateAddress, &sendRetry)
            }
        }
        guard let accepted, let pointer = accepted else {
            guard sendRetry != 0 else { return }
            let length = remote.withSockAddr { address, addressLength in
                cquic_write_retry(self.endpoint.pointer, bytes, packet.count, address, socklen_t(addressLength),
                                  self.output, self.datagram.count, cquic_now())
            }
            if length > 0 { self.emit(length, to: remote) }
            return
        }
        connection.attach(pointer)
        self.open[ObjectIdentifier(connection)] = connection
        self.openCount.add(1)
        self.handshaking += 1
        self.route(connection)
        self.read(packet, from: remote, into: connection)
    }

    private func read(_ packet: UnsafeRawBufferPointer, from remote: SocketAddress, into connection: DoQConnection) {
        guard let pointer = connection.pointer, let bytes = packet.baseAddress?.assumingMemoryBound(to: UInt8.self)
        else { return }
        let status = self.withAddresses(remote) { local, localLength, remote, remoteLength in
            cquic_conn_read(pointer, bytes, packet.count, local, localLength, remote, remoteLength, cquic_now())
        }
        self.route(connection)
        if !connection.handshakeCompleted, cquic_conn_handshake_completed(pointer) != 0 {
            connection.handshakeCompleted = true
            self.handshaking -= 1
        }
        switch status {
        case CQUIC_OK, CQUIC_DISCARDED:
            self.progress(connection)
        case CQUIC_GONE:
            self.drop(connection)
        default:
            self.fail(connection, code: nil)
        }
    }

    /// Routes the connection IDs the connection took, and stops routing those it gave up.
    private func route(_ connection: DoQConnection) {
        for id in connection.addedIDs {
            self.connections[id] = connection
            connection.routedIDs.insert(id)
        }
        for id in connection.removedIDs where self.connections[id] === connection {
            self.connections[id] = nil
            connection.routedIDs.remove(id)
        }
        connection.addedIDs = []
        connection.removedIDs = []
    }

    /// After a packet or a timer: resets what the client abandoned, answers complete queries, sends, re-arms.
    private func progress(_ connection: DoQConnection) {
        guard let pointer = connection.pointer else { return }
        for stream in connection.abandonedStreams {
            cquic_conn_reset_stream(pointer, stream, ErrorCode.requestCancelled.rawValue)
        }
        connection.abandonedStreams = []
        let complete = connection.completedQueries
        connection.completedQueries = []
        if !complete.isEmpty { connection.lastActivity = .now() }
        for stream in complete where connection.pointer != nil {
            self.answer(stream, on: connection)
        }
        self.send(connection)
        if self.draining, connection.isIdle { return self.fail(connection, code: .noError) }
        self.armTimer(connection)
    }

    private func answer(_ stream: Int64, on connection: DoQConnection) {
        guard let query = connection.query(of: stream), let context = self.context else { return }
        // Two length octets, then exactly that much message, with ID 0 (RFC 9250 §4.2, §4.2.1).
        guard query.count >= 4, Int(query[0]) << 8 | Int(query[1]) == query.count - 2, query[2] == 0, query[3] == 0
        else { return self.fail(connection, code: .protocolError) }
        let message = ByteBuffer(bytes: query[2...])
        let metadata = DNSRequestMetadata(client: connection.remote, transport: .doq, listener: self.listener)
        switch QueryIntake(message: message, metadata: metadata, deadline: .now() + self.queryTimeout) {
        case .drop:
            self.fail(connection, code: .protocolError)
        case .reply(let reply):
            self.respond(reply, on: stream, of: connection)
        case .request(let request):
            switch self.pipeline.begin(request) {
            case .answered(let response):
                self.respond(EncryptedAnswerPadding.apply(response.message, for: request), on: stream, of: connection)
            case .pending(let pending):
                pending.finish(on: context.eventLoop).assumeIsolated().whenComplete { result in
                    let message = (try? result.get())?.message ?? DNSResponse.error(.servFail, for: request).message
                    guard connection.pointer != nil else { return }
                    self.respond(EncryptedAnswerPadding.apply(message, for: request), on: stream, of: connection)
                    self.send(connection)
                    self.armTimer(connection)
                    self.flushIfNeeded()
                }
            }
        }
    }

    /// Puts `message` on `stream` as its answer; an empty one (a client configured to get nothing) cancels the
    /// stream instead.
    private func respond(_ message: ByteBuffer, on stream: Int64, of connection: DoQConnection) {
        guard let pointer = connection.pointer else { return }
        guard message.readableBytes > 0 else {
            cquic_conn_reset_stream(pointer, stream, ErrorCode.requestCancelled.rawValue)
            return
        }
        var framed = ByteBuffer()
        framed.reserveCapacity(message.readableBytes + 2)
        framed.writeLengthPrefixedDNSMessage(message)
        if connection.setAnswer(framed, on: stream) { connection.lastActivity = .now() }
    }

    /// Writes every datagram the connection can send now: answers first, then its own frames.
    private func send(_ connection: DoQConnection) {
        guard let pointer = connection.pointer else { return }
        let now = cquic_now()
        var congested = false
        var fatal = false
        streams: for stream in connection.streamsToSend {
            var done = false
            while !done, !congested, !fatal {
                connection.withUnsentAnswer(of: stream) { rest in
                    var consumed = -1
                    let length = cquic_conn_write(pointer, stream, rest.baseAddress?.assumingMemoryBound(to: UInt8.self),
                                                  rest.count, 1, &consumed, self.output, self.datagram.count, now)
                    switch length {
                    case 0: congested = true
                    case -1: done = true
                    case ..<0: fatal = true
                    default: self.emit(length, to: connection.remote)
                    }
                    let taken = max(consumed, 0)
                    let finished = length > 0 && consumed >= 0 && taken == rest.count
                    if finished { done = true }
                    return (taken, finished)
                }
            }
            if congested || fatal { break streams }
        }
        while !congested, !fatal {
            var consumed = -1
            let length = cquic_conn_write(pointer, -1, nil, 0, 0, &consumed, self.output, self.datagram.count, now)
            if length > 0 {
                self.emit(length, to: connection.remote)
            } else {
                fatal = length < -1
                break
            }
        }
        if fatal { self.fail(connection, code: nil) }
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

    /// Arms the connection's timer for ngtcp2's next expiry (retransmission, delayed acknowledgement, idle).
    private func armTimer(_ connection: DoQConnection) {
        guard let pointer = connection.pointer, let context = self.context else { return }
        let expiry = cquic_conn_expiry(pointer)
        guard expiry != connection.timerExpiry else { return }
        connection.timer?.cancel()
        connection.timer = nil
        connection.timerExpiry = expiry
        guard expiry != UInt64.max else { return }
        let now = cquic_now()
        let delay = expiry > now ? Int64(clamping: expiry - now) : 0
        connection.timer = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(delay)) {
            connection.timer = nil
            connection.timerExpiry = .max
            self.expire(connection)
        }
    }

    private func expire(_ connection: DoQConnection) {
        guard let pointer = connection.pointer else { return }
        switch cquic_conn_handle_expiry(pointer, cquic_now()) {
        case CQUIC_OK:
            self.send(connection)
            self.armTimer(connection)
            self.flushIfNeeded()
        case CQUIC_GONE:
            self.drop(connection)
        default:
            self.fail(connection, code: nil)
        }
    }

    /// Closes the connection with a CONNECTION_CLOSE: DoQ error `code`, or the transport or TLS error that failed
    /// it when `code` is nil.
    private func fail(_ connection: DoQConnection, code: ErrorCode?) {
        if let pointer = connection.pointer {
            let length = cquic_conn_write_close(pointer, code == nil ? 1 : 0, code?.rawValue ?? 0, self.output,
                                                self.datagram.count, cquic_now())
            if length > 0 { self.emit(length, to: connection.remote) }
            self.flushIfNeeded()
        }
        self.drop(connection)
    }

    /// Forgets the connection: no more routing, timers or C state.
    private func drop(_ connection: DoQConnection) {
        guard connection.pointer != nil else { return }
        for id in connection.routedIDs where self.connections[id] === connection {
            self.connections[id] = nil
        }
        connection.routedIDs = []
        connection.release()
        self.open[ObjectIdentifier(connection)] = nil
        self.openCount.decrement()
        if !connection.handshakeCompleted { self.handshaking -= 1 }
    }
}
