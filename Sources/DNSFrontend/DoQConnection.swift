import CQUIC
import NIOCore

/// One DNS-over-QUIC connection (RFC 9250), server side: the C connection, its client streams (a query each,
/// then the answer), and what its last packet or timer produced for ``DoQServerHandler`` to act on. Lives on the
/// listener's event loop only.
final class DoQConnection {
    /// A client-opened stream: the query's bytes as they arrive, then the answer being sent.
    struct Stream {
        var query: [UInt8] = []
        /// The framed answer, kept until the stream closes: ngtcp2 keeps pointers into it until the client has
        /// acknowledged every byte.
        var answer: UnsafeMutableRawBufferPointer?
        /// Bytes of `answer` handed to ngtcp2.
        var sent = 0
        /// Whether the answer's last byte and the FIN have been handed to ngtcp2.
        var finished = false
    }

    /// The client's address as the connection started.
    let remote: SocketAddress
    /// The C connection; nil before accept succeeds and after ``release()``.
    private(set) var pointer: OpaquePointer?
    private(set) var streams: [Int64: Stream] = [:]
    /// Streams whose query has all arrived (FIN), in arrival order, not yet taken by the handler.
    var completedQueries: [Int64] = []
    /// Streams the client reset before its query was complete, to be reset on this side too.
    var abandonedStreams: [Int64] = []
    /// Connection IDs the connection took or gave up since the handler last looked.
    var addedIDs: [[UInt8]] = []
    var removedIDs: [[UInt8]] = []
    /// Every connection ID routed to this connection now.
    var routedIDs: Set<[UInt8]> = []
    /// Whether the TLS handshake has completed (until then the connection counts against the handshake limit).
    var handshakeCompleted = false
    /// When a query last arrived or an answer was last given, for the idle close.
    var lastActivity = NIODeadline.now()
    /// The timer armed for ngtcp2's next expiry, and that expiry (on `cquic_now`'s clock).
    var timer: Scheduled<Void>?
    var timerExpiry = UInt64.max

    init(remote: SocketAddress) {
        self.remote = remote
    }

    /// Takes the C connection made by `cquic_accept` for this object.
    func attach(_ pointer: OpaquePointer) {
        self.pointer = pointer
    }

    /// The callbacks the C connection reports through, with this object as `user`.
    static let events = cquic_events(
        stream_data: { user, stream, data, length, fin in
            guard let user else { return -1 }
            let connection = Unmanaged<DoQConnection>.fromOpaque(user).takeUnretainedValue()
            return connection.received(stream, UnsafeBufferPointer(start: data, count: length), fin: fin != 0)
        },
        stream_closed: { user, stream, reset, _ in
            guard let user else { return }
            Unmanaged<DoQConnection>.fromOpaque(user).takeUnretainedValue().closed(stream, reset: reset != 0)
        },
        cid_added: { user, cid, length in
            guard let user, let cid else { return }
            Unmanaged<DoQConnection>.fromOpaque(user).takeUnretainedValue()
                .addedIDs.append(Array(UnsafeBufferPointer(start: cid, count: length)))
        },
        cid_removed: { user, cid, length in
            guard let user, let cid else { return }
            Unmanaged<DoQConnection>.fromOpaque(user).takeUnretainedValue()
                .removedIDs.append(Array(UnsafeBufferPointer(start: cid, count: length)))
        })

    private func received(_ stream: Int64, _ bytes: UnsafeBufferPointer<UInt8>, fin: Bool) -> Int32 {
        // Only client-opened bidirectional streams carry queries (RFC 9250 §4.2); the transport parameters allow
        // no other kind, so anything else is a broken client.
        guard stream & 0x3 == 0 else { return -1 }
        self.streams[stream, default: Stream()].query.append(contentsOf: bytes)
        if fin { self.completedQueries.append(stream) }
        return 0
    }

    private func closed(_ stream: Int64, reset: Bool) {
        guard let state = self.streams.removeValue(forKey: stream) else { return }
        state.answer?.deallocate()
        if reset, state.answer == nil { self.abandonedStreams.append(stream) }
    }

    /// Whether no stream is open: nothing asked and not yet answered, nothing still being delivered.
    var isIdle: Bool { self.streams.isEmpty }

    /// The query of a stream whose FIN has arrived, or nil when the stream is gone.
    func query(of stream: Int64) -> [UInt8]? {
        self.streams[stream]?.query
    }

    /// Keeps `answer` (already framed) as the stream's answer; false when the stream is gone.
    func setAnswer(_ answer: ByteBuffer, on stream: Int64) -> Bool {
        guard self.streams[stream] != nil else { return false }
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: answer.readableBytes, alignment: 1)
        answer.withUnsafeReadableBytes { storage.copyMemory(from: $0) }
        self.streams[stream]?.query = []
        self.streams[stream]?.answer = storage
        return true
    }

    /// Streams with answer bytes not yet handed to ngtcp2 (or whose FIN is still to go).
    var streamsToSend: [Int64] {
        self.streams.compactMap { id, state in
            guard state.answer != nil, !state.finished else { return nil }
            return id
        }
    }

    /// Calls `body` with the unsent rest of a stream's answer; `body` returns how many bytes it handed on, and
    /// whether that was all of them with the FIN.
    func withUnsentAnswer(of stream: Int64, _ body: (UnsafeRawBufferPointer) -> (taken: Int, finished: Bool)) {
        guard let state = self.streams[stream], let answer = state.answer else { return }
        let (taken, finished) = body(UnsafeRawBufferPointer(rebasing: answer[state.sent...]))
        self.streams[stream]?.sent += taken
        if finished { self.streams[stream]?.finished = true }
    }

    /// Frees the C connection and every answer kept for it.
    func release() {
        self.timer?.cancel()
        self.timer = nil
        if let pointer = self.pointer { cquic_conn_free(pointer) }
        self.pointer = nil
        for state in self.streams.values { state.answer?.deallocate() }
        self.streams = [:]
    }
}
