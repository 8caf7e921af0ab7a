import CQUIC
import Crypto
import DNSCore
import DNSQUIC
import DNSWire
import Foundation
import NIOConcurrencyHelpers
import NIOCore

/// Carries queries over one DNS-over-QUIC connection (RFC 9250) to an upstream, on a connected UDP channel: the
/// handshake (certificate by name, pins, resumption), then each query on a stream of its own (ID 0, two length
/// octets, FIN) and its answer matched by stream, with the client's ID restored. Queries beyond the streams the
/// server allows wait for credit. Confined to the channel's event loop.
final class DoQMultiplexer: ChannelDuplexHandler, RemovableChannelHandler, ConnectionBackedCarrier {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    /// What every connection to one upstream shares.
    struct Settings: Sendable {
        var endpoint: QUICClientEndpoint
        /// The name the certificate must carry, sent as SNI unless it is an IP literal.
        var serverName: String
        /// SHA-256 digests of the public keys the server may present; empty for no pinning.
        var pins: [[UInt8]]
        /// Where the last TLS session is kept for the next connection to resume; nil not to resume.
        var sessions: QUICSessionStore?
        var statistics: UpstreamStatistics
        var upstreamName: String
        var maxInFlight: Int
        var idleTimeout: TimeAmount
    }

    /// DoQ's REQUEST_CANCELLED: a query given up (past its deadline).
    static let requestCancelled: UInt64 = 3
    static let datagramCapacity = 1_500

    let connection: CarrierConnection<Int64>
    private let settings: Settings
    /// Completed when the handshake has succeeded (and the pins matched), failed when it cannot.
    private let handshake: EventLoopPromise<Void>
    private var handshakeSettled = false
    private var quic: QUICConnection?
    private var local: SocketAddress?
    /// Queries waiting for the server to allow another stream.
    private var waiting: [(query: UpstreamQuery, promise: EventLoopPromise<UpstreamAnswer>)] = []
    private var sessionSaved = false
    private let datagram = UnsafeMutableRawBufferPointer.allocate(byteCount: DoQMultiplexer.datagramCapacity,
                                                                  alignment: 8)
    private var pending: InFlightQueries<Int64> { self.connection.pending }

    init(settings: Settings, handshake: EventLoopPromise<Void>) {
        self.settings = settings
        self.handshake = handshake
        let flush = FlushTarget()
        self.connection = CarrierConnection(upstreamName: settings.upstreamName, idleTimeout: settings.idleTimeout) {
            flush.multiplexer?.flushQUIC(context: $0)
        }
        flush.multiplexer = self
        self.connection.pending.expired = { [weak self] stream in
            guard let self else { return }
            self.quic?.reset(stream, code: Self.requestCancelled)
            self.connection.flusher.flushSoon()
        }
    }

    /// The carrier's flush closure reaches the multiplexer through this, weakly (the carrier is owned by it).
    private final class FlushTarget {
        weak var multiplexer: DoQMultiplexer?
    }

    deinit {
        self.datagram.deallocate()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.connection.attach(context)
        if context.channel.isActive { self.start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.start(context: context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.connection.detach(failing: .connectionClosed(self.settings.upstreamName))
        for waiter in self.waiting { waiter.promise.fail(UpstreamError.connectionClosed(self.settings.upstreamName)) }
        self.waiting = []
        self.quic?.release()
        self.settleHandshake(failing: UpstreamError.connectFailed(self.settings.upstreamName,
                                                                  reason: "closed during the QUIC handshake"))
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.connection.markClosed(failing: .connectionClosed(self.settings.upstreamName))
        context.fireChannelInactive()
    }

    /// A connected UDP socket hears the ICMP errors of its peer (port unreachable: the server is gone): queries in
    /// flight are lost, and are asked again on a new connection.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let name = self.settings.upstreamName
        self.settleHandshake(failing: UpstreamError.connectFailed(name, reason: "\(error)"))
        self.connection.markClosed(failing: .connectionClosed(name))
        self.quic?.release()
        context.close(promise: nil)
    }

    /// Starts the handshake once the socket is connected.
    private func start(context: ChannelHandlerContext) {
        guard self.quic == nil, let local = context.channel.localAddress, let remote = context.channel.remoteAddress
        else { return }
        let quic = QUICConnection(remote: remote)
        let session = self.settings.sessions?.latest ?? []
        let idleMilliseconds = UInt64(max(self.settings.idleTimeout.nanoseconds / 1_000_000, 1) * 2)
        let pointer = QUICConnection.withAddresses(local: local, remote: remote) { l, lLength, r, rLength in
            withUnsafePointer(to: QUICConnection.events) { events in
                session.withUnsafeBufferPointer { session in
                    cquic_connect(self.settings.endpoint.pointer, self.settings.serverName, l, lLength, r, rLength,
                                  events, quic.userPointer, session.baseAddress, session.count, idleMilliseconds,
                                  cquic_now())
                }
            }
        }
        guard let pointer else {
            self.settleHandshake(failing: UpstreamError.connectFailed(self.settings.upstreamName,
                                                                      reason: "QUIC connection could not be set up"))
            context.close(promise: nil)
            return
        }
        quic.attach(pointer)
        self.quic = quic
        self.local = local
        self.flushQUIC(context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let quic = self.quic, let local = self.local else { return }
        let envelope = self.unwrapInboundIn(data)
        let status = envelope.data.withUnsafeReadableBytes { quic.read($0, local: local, remote: quic.remote) }
        switch status {
        case CQUIC_OK, CQUIC_DISCARDED:
            self.progress(context: context)
        case CQUIC_GONE:
            self.connection.markClosed(failing: .connectionClosed(self.settings.upstreamName))
            context.close(promise: nil)
        default:
            self.fail(context: context, reason: "QUIC connection failed (protocol or TLS error)")
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.connection.flusher.flushSoon()
        context.fireChannelReadComplete()
    }

    /// After a packet: the handshake's outcome, a ticket to keep, answers, resets, and queries waiting for streams.
    private func progress(context: ChannelHandlerContext) {
        guard let quic = self.quic else { return }
        if !self.handshakeSettled, quic.handshakeCompleted {
            if let refusal = self.pinRefusal() {
                return self.fail(context: context, reason: refusal, tls: true)
            }
            if let pointer = quic.pointer, cquic_conn_session_resumed(pointer) != 0 {
                self.settings.statistics.tlsSessionResumed()
            }
            self.handshakeSettled = true
            self.handshake.succeed(())
        }
        if !self.sessionSaved, self.handshakeSettled { self.saveSession() }
        for stream in quic.resetStreams {
            self.pending.remove(stream)?.promise.fail(UpstreamError.streamReset(self.settings.upstreamName,
                                                                                 code: "QUIC"))
        }
        quic.resetStreams = []
        for (stream, bytes) in quic.finishedStreams { self.deliver(bytes, on: stream, context: context) }
        quic.finishedStreams = []
        self.sendWaiting(context: context)
        self.connection.closeIfDrained()
    }

    /// Why the server's public key is not acceptable under the configured pins, or nil.
    private func pinRefusal() -> String? {
        guard !self.settings.pins.isEmpty else { return nil }
        guard let pointer = self.quic?.pointer else { return "connection gone" }
        var key = [UInt8](repeating: 0, count: 4096)
        let length = cquic_conn_peer_public_key(pointer, &key, key.count)
        guard length > 0 else { return "no server public key to check the pins against" }
        let digest = Array(SHA256.hash(data: key[..<length]))
        return self.settings.pins.contains(digest) ? nil
            : "the server's public key (pin_sha256=\(Data(digest).base64EncodedString())) matches no configured pin"
    }

    private func saveSession() {
        guard let pointer = self.quic?.pointer, let store = self.settings.sessions else { return }
        var session = [UInt8](repeating: 0, count: 8192)
        let length = cquic_conn_session(pointer, &session, session.count)
        guard length > 0 else { return }
        store.latest = Array(session[..<length])
        self.sessionSaved = true
    }

    func send(_ query: UpstreamQuery, promise: EventLoopPromise<UpstreamAnswer>) {
        guard let context = self.connection.context, self.connection.isOpen, self.handshakeSettled else {
            promise.fail(UpstreamError.connectionClosed(self.settings.upstreamName))
            return
        }
        guard self.pending.count + self.waiting.count < self.settings.maxInFlight else {
            promise.fail(UpstreamError.busy(self.settings.upstreamName))
            return
        }
        if !self.open(query, promise, context: context) { self.waiting.append((query, promise)) }
    }

    /// Sends `query` on a new stream; false when the server allows no more streams now.
    private func open(_ query: UpstreamQuery, _ promise: EventLoopPromise<UpstreamAnswer>,
                      context: ChannelHandlerContext) -> Bool {
        guard let quic = self.quic, let pointer = quic.pointer else {
            promise.fail(UpstreamError.connectionClosed(self.settings.upstreamName))
            return true
        }
        guard let clientID = query.message.dnsMessageID else {
            promise.fail(UpstreamError.badReply(self.settings.upstreamName, reason: "query without a header"))
            return true
        }
        let stream = cquic_conn_open_stream(pointer)
        guard stream >= 0 else { return false }
        var message = query.message
        message.setDNSMessageID(0)
        var framed = ByteBuffer()
        framed.reserveCapacity(message.readableBytes + 2)
        framed.writeLengthPrefixedDNSMessage(message)
        quic.send(framed, on: stream, opening: true)
        self.pending.insert(.init(clientID: clientID, question: query.question, promise: promise,
                                  deadline: query.deadline), for: stream, on: context.eventLoop)
        self.connection.flusher.flushSoon()
        return true
    }

    private func sendWaiting(context: ChannelHandlerContext) {
        while let first = self.waiting.first {
            guard self.open(first.query, first.promise, context: context) else { return }
            self.waiting.removeFirst()
        }
    }

    private func deliver(_ bytes: [UInt8], on stream: Int64, context: ChannelHandlerContext) {
        guard let entry = self.pending.remove(stream) else { return }
        let name = self.settings.upstreamName
        guard bytes.count >= 2,
            Int(bytes[0]) << 8 | Int(bytes[1]) == bytes.count - 2
        else { return entry.promise.fail(UpstreamError.badReply(name, reason: "DoQ answer with a bad length")) }
        var answer = ByteBuffer(bytes: bytes[2...])
        guard let view = try? DNSMessageView(answer), view.header.isResponse, view.question == entry.question else {
            return entry.promise.fail(UpstreamError.badReply(name, reason: "not an answer to the question"))
        }
        self.connection.touch(context.eventLoop.now)
        answer.setDNSMessageID(entry.clientID)
        entry.promise.succeed(UpstreamAnswer(message: answer, view: view, upstream: name))
    }

    /// Writes what the connection can send now, in one flush, and re-arms its timer.
    fileprivate func flushQUIC(context: ChannelHandlerContext) {
        guard let quic = self.quic else { return }
        var wrote = false
        let ok = quic.flush(scratch: self.datagram) { length in
            self.emit(length, context: context)
            wrote = true
        }
        if wrote { context.flush() }
        guard ok else { return self.fail(context: context, reason: "QUIC connection failed while sending") }
        quic.armTimer(on: context.eventLoop) { [weak self] in self?.expire() }
    }

    private func expire() {
        guard let quic = self.quic, let context = self.connection.context else { return }
        switch quic.handleExpiry() {
        case CQUIC_OK:
            self.flushQUIC(context: context)
        case CQUIC_GONE:
            self.settleHandshake(failing: UpstreamError.connectFailed(self.settings.upstreamName,
                                                                      reason: "QUIC handshake or idle timeout"))
            self.connection.markClosed(failing: .connectionClosed(self.settings.upstreamName))
            context.close(promise: nil)
        default:
            self.fail(context: context, reason: "QUIC connection failed on a timer")
        }
    }

    private func emit(_ length: Int, context: ChannelHandlerContext) {
        guard let remote = self.quic?.remote else { return }
        var buffer = context.channel.allocator.buffer(capacity: length)
        buffer.writeBytes(UnsafeRawBufferPointer(rebasing: self.datagram[..<length]))
        context.write(self.wrapOutboundOut(AddressedEnvelope(remoteAddress: remote, data: buffer)), promise: nil)
    }

    /// Ends the connection after an error: the peer is told (CONNECTION_CLOSE with the transport or TLS error),
    /// queries in flight fail as lost, and a handshake in progress fails (as a TLS failure when `tls`).
    private func fail(context: ChannelHandlerContext, reason: String, tls: Bool = false) {
        let name = self.settings.upstreamName
        self.settleHandshake(failing: tls || !self.handshakeSettled
            ? UpstreamError.tlsFailed(name, reason: reason) : UpstreamError.connectFailed(name, reason: reason))
        if let quic = self.quic {
            let length = quic.closePacket(code: tls ? 0 : nil, scratch: self.datagram)
            if length > 0 {
                self.emit(length, context: context)
                context.flush()
            }
            quic.release()
        }
        self.connection.markClosed(failing: .connectionClosed(name))
        context.close(promise: nil)
    }

    /// Closing the channel tells the server first (CONNECTION_CLOSE, DOQ_NO_ERROR) while the connection is alive.
    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if let quic = self.quic, quic.pointer != nil {
            let length = quic.closePacket(code: 0, scratch: self.datagram)
            if length > 0 {
                self.emit(length, context: context)
                context.flush()
            }
            quic.release()
        }
        context.close(mode: mode, promise: promise)
    }

    private func settleHandshake(failing error: UpstreamError) {
        guard !self.handshakeSettled else { return }
        self.handshakeSettled = true
        self.handshake.fail(error)
    }
}

/// The TLS session the last connection to an upstream was given, for the next one to resume (RFC 8446 §2.2).
final class QUICSessionStore: Sendable {
    private let box = NIOLockedValueBox<[UInt8]?>(nil)

    var latest: [UInt8]? {
        get { self.box.withLockedValue { $0 } }
        set { self.box.withLockedValue { $0 = newValue } }
    }
}
