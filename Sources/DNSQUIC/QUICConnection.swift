public import CQUIC
public import NIOCore

/// One QUIC connection on the C side (``CQUIC``), for DNS over QUIC at either end: its streams (the bytes that
/// came in, and the message going out, kept until the stream closes because ngtcp2 keeps pointers into it until
/// the peer acknowledges it), what its last packet or timer produced (finished streams, reset streams, connection
/// IDs taken or given up), and the one timer ngtcp2 asks for. Confined to one event loop.
public final class QUICConnection {
    struct Stream {
        var received: [UInt8] = []
        var outgoing: UnsafeMutableRawBufferPointer?
        /// Bytes of `outgoing` handed to ngtcp2.
        var sent = 0
        /// Whether the last byte of `outgoing` and the FIN have been handed to ngtcp2.
        var finished = false
    }

    /// The peer's address as the connection started.
    public let remote: SocketAddress
    /// The C connection; nil before ``attach(_:)`` and after ``release()``.
    public private(set) var pointer: OpaquePointer?
    private var streams: [Int64: Stream] = [:]
    /// Streams with bytes (or the FIN) not yet handed to ngtcp2, oldest first: a flush looks at these only, not at
    /// every open stream.
    private var unsent: [Int64] = []
    /// Streams whose peer has finished sending (FIN), with everything it sent on them, in arrival order, not yet
    /// taken (the stream itself may be closed by then).
    public var finishedStreams: [(stream: Int64, bytes: [UInt8])] = []
    /// Streams the peer reset before finishing, not yet taken.
    public var resetStreams: [Int64] = []
    /// Connection IDs the connection took or gave up since they were last taken.
    public var addedIDs: [[UInt8]] = []
    public var removedIDs: [[UInt8]] = []
    private var timer: Scheduled<Void>?
    private var timerExpiry = UInt64.max

    public init(remote: SocketAddress) {
        self.remote = remote
    }

    /// Takes the C connection made for this object (with ``userPointer`` and ``events``).
    public func attach(_ pointer: OpaquePointer) {
        self.pointer = pointer
    }

    /// This object, as the `user` of the C connection's callbacks.
    public var userPointer: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    /// The callbacks the C connection reports through, with ``userPointer`` as `user`.
    public static let events = cquic_events(
        stream_data: { user, stream, data, length, fin in
            guard let user else { return -1 }
            return Unmanaged<QUICConnection>.fromOpaque(user).takeUnretainedValue()
                .received(stream, UnsafeBufferPointer(start: data, count: length), fin: fin != 0)
        },
        stream_closed: { user, stream, reset, _ in
            guard let user else { return }
            Unmanaged<QUICConnection>.fromOpaque(user).takeUnretainedValue().closed(stream, reset: reset != 0)
        },
        cid_added: { user, cid, length in
            guard let user, let cid else { return }
            Unmanaged<QUICConnection>.fromOpaque(user).takeUnretainedValue()
                .addedIDs.append(Array(UnsafeBufferPointer(start: cid, count: length)))
        },
        cid_removed: { user, cid, length in
            guard let user, let cid else { return }
            Unmanaged<QUICConnection>.fromOpaque(user).takeUnretainedValue()
                .removedIDs.append(Array(UnsafeBufferPointer(start: cid, count: length)))
        })

    private func received(_ stream: Int64, _ bytes: UnsafeBufferPointer<UInt8>, fin: Bool) -> Int32 {
        // DNS over QUIC uses client-opened bidirectional streams only (RFC 9250 §4.2); the transport parameters
        // allow no other kind, so anything else is a broken peer.
        guard stream & 0x3 == 0, (self.streams[stream]?.received.count ?? 0) + bytes.count <= Self.maxStreamBytes
        else { return -1 }
        self.streams[stream, default: Stream()].received.append(contentsOf: bytes)
        if fin, let received = self.streams[stream]?.received {
            self.finishedStreams.append((stream, received))
            self.streams[stream]?.received = []
        }
        return 0
    }

    private func closed(_ stream: Int64, reset: Bool) {
        self.streams.removeValue(forKey: stream)?.outgoing?.deallocate()
        if reset { self.resetStreams.append(stream) }
    }

    /// Datagrams read per `recvmmsg` on a QUIC socket, and the receive buffer that holds them (NIO splits it
    /// evenly): one read per datagram cost a third of a DoQ hit's CPU (perf, scripts/bench-doq.sh).
    public static let vectorReadCount = 32
    public static let receiveAllocator = FixedSizeRecvByteBufferAllocator(capacity: 32 * 2_048)

    /// A DNS message's two length octets and up to 65,535 of message: the most a stream carries each way.
    public static let maxStreamBytes = 2 + 65_535

    /// Whether no stream is open.
    public var isIdle: Bool { self.streams.isEmpty }

    /// Whether `stream` is open.
    public func isOpen(_ stream: Int64) -> Bool { self.streams[stream] != nil }

    /// Sends `bytes`, then FIN, on `stream` (kept until the stream closes); false when the stream is gone (a
    /// stream this side opens is created here).
    @discardableResult
    public func send(_ bytes: ByteBuffer, on stream: Int64, opening: Bool = false) -> Bool {
        guard opening || self.streams[stream] != nil else { return false }
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.readableBytes, alignment: 1)
        bytes.withUnsafeReadableBytes { storage.copyMemory(from: $0) }
        self.streams[stream, default: Stream()].received = []
        self.streams[stream]?.outgoing?.deallocate()
        self.streams[stream]?.outgoing = storage
        self.streams[stream]?.sent = 0
        self.streams[stream]?.finished = false
        self.unsent.append(stream)
        return true
    }

    /// Calls `body` with the listener's or client's address and the peer's as C socket addresses.
    public static func withAddresses<Result>(
        local: SocketAddress, remote: SocketAddress,
        _ body: (UnsafePointer<sockaddr>, socklen_t, UnsafePointer<sockaddr>, socklen_t) -> Result
    ) -> Result {
        local.withSockAddr { local, localLength in
            remote.withSockAddr { remote, remoteLength in
                body(local, socklen_t(localLength), remote, socklen_t(remoteLength))
            }
        }
    }

    /// Feeds one datagram to the connection.
    public func read(_ packet: UnsafeRawBufferPointer, local: SocketAddress, remote: SocketAddress) -> cquic_status {
        guard let pointer = self.pointer, let bytes = packet.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            return CQUIC_GONE
        }
        return Self.withAddresses(local: local, remote: remote) { local, localLength, remote, remoteLength in
            cquic_conn_read(pointer, bytes, packet.count, local, localLength, remote, remoteLength, cquic_now())
        }
    }

    /// Writes every datagram the connection can send now, through `emit` (which gets each one in `scratch`): the
    /// streams' messages first, as many to a datagram as fit, then the connection's own frames. False on a fatal
    /// error (close the connection).
    public func flush(scratch: UnsafeMutableRawBufferPointer, emit: (Int) -> Void) -> Bool {
        guard let pointer = self.pointer, let out = scratch.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            return true
        }
        let now = cquic_now()
        var congested = false
        // Streams still owing bytes after this flush: blocked ones, and, once congestion stops it, all the rest.
        var owing: [Int64] = []
        for (position, stream) in self.unsent.enumerated() {
            if congested {
                owing.append(contentsOf: self.unsent[position...])
                break
            }
            writing: while let state = self.streams[stream], let outgoing = state.outgoing, !state.finished {
                let rest = UnsafeRawBufferPointer(rebasing: outgoing[state.sent...])
                var consumed = -1
                let length = cquic_conn_write(pointer, stream, rest.baseAddress?.assumingMemoryBound(to: UInt8.self),
                                              rest.count, 1, 1, &consumed, out, scratch.count, now)
                if consumed >= 0 {
                    self.streams[stream]?.sent += consumed
                    if consumed == rest.count { self.streams[stream]?.finished = true }
                }
                switch length {
                case -3: continue  // in a datagram with room left: the next stream (or the loop below) fills it
                case -1: break writing  // blocked, or closed meanwhile
                case ..<0: return false
                case 0:
                    congested = true
                    break writing
                default: emit(length)
                }
            }
            if let state = self.streams[stream], !state.finished { owing.append(stream) }
        }
        self.unsent = owing
        // Finishes a datagram left open above, then the connection's own frames.
        while true {
            var consumed = -1
            let length = cquic_conn_write(pointer, -1, nil, 0, 0, 0, &consumed, out, scratch.count, now)
            if length > 0 {
                emit(length)
            } else {
                return length >= -1 || congested
            }
        }
    }

    /// Arms the timer for ngtcp2's next expiry (retransmission, delayed acknowledgement, idle), to call `fire`
    /// on `eventLoop` then; a timer already armed for the same time stays.
    public func armTimer(on eventLoop: any EventLoop, fire: @escaping () -> Void) {
        guard let pointer = self.pointer else { return }
        let expiry = cquic_conn_expiry(pointer)
        guard expiry != self.timerExpiry else { return }
        self.timer?.cancel()
        self.timer = nil
        self.timerExpiry = expiry
        guard expiry != UInt64.max else { return }
        let now = cquic_now()
        let delay = expiry > now ? Int64(clamping: expiry - now) : 0
        self.timer = eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(delay)) {
            self.timer = nil
            self.timerExpiry = .max
            fire()
        }
    }

    /// Runs the connection's due timers.
    public func handleExpiry() -> cquic_status {
        guard let pointer = self.pointer else { return CQUIC_GONE }
        return cquic_conn_handle_expiry(pointer, cquic_now())
    }

    /// Writes a CONNECTION_CLOSE into `scratch`: application error `code`, or the transport or TLS error that
    /// failed the connection when `code` is nil; returns its length (0: nothing to send).
    public func closePacket(code: UInt64?, scratch: UnsafeMutableRawBufferPointer) -> Int {
        guard let pointer = self.pointer, let out = scratch.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            return 0
        }
        return max(cquic_conn_write_close(pointer, code == nil ? 1 : 0, code ?? 0, out, scratch.count, cquic_now()), 0)
    }

    /// Abandons `stream` both ways with application error `code`.
    public func reset(_ stream: Int64, code: UInt64) {
        guard let pointer = self.pointer else { return }
        cquic_conn_reset_stream(pointer, stream, code)
    }

    /// Whether the TLS handshake has completed.
    public var handshakeCompleted: Bool {
        guard let pointer = self.pointer else { return false }
        return cquic_conn_handshake_completed(pointer) != 0
    }

    /// Frees the C connection and every message kept for it.
    public func release() {
        self.timer?.cancel()
        self.timer = nil
        if let pointer = self.pointer { cquic_conn_free(pointer) }
        self.pointer = nil
        for state in self.streams.values { state.outgoing?.deallocate() }
        self.streams = [:]
    }
}
