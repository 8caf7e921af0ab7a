internal import CNGHTTP2
public import NIOCore

/// Hears what an ``HTTP2Session`` reads.
public protocol HTTP2SessionDelegate: AnyObject {
    /// A stream's request (server) or response (client) is complete, or its body passed the limit (a client's
    /// stream is then reset; a server answers it).
    func http2Session(_ session: HTTP2Session, received message: HTTP2Message, on stream: Int32)
    /// A stream closed, answered or not; `errorCode` is 0 unless it was reset.
    func http2Session(_ session: HTTP2Session, closed stream: Int32, errorCode: UInt32)
    /// The peer sent GOAWAY: streams above `lastStreamID` were never processed.
    func http2Session(_ session: HTTP2Session, goAway lastStreamID: Int32)
}

/// One HTTP/2 connection on libnghttp2, as bytes in and bytes out: the caller feeds it what TLS decrypted
/// (``receive(_:)``), submits requests or responses, and writes what ``drainOutput(into:)`` produces. nghttp2 keeps
/// the stream states, HPACK, flow control (window updates are automatic) and the checks RFC 9113 asks of a peer
/// (pseudo-header fields, `content-length`, the advertised stream limit answered with REFUSED_STREAM), and cuts off
/// the known floods: more than 1,000 unanswered SETTINGS or PING frames, RST_STREAM beyond a token bucket
/// (the 2023 "rapid reset"), endless CONTINUATION frames. Used on one event loop.
public final class HTTP2Session {
    /// Which end of the connection a session is.
    public enum Role: Sendable {
        case client, server
    }

    /// What a session advertises and accepts.
    public struct Settings: Sendable {
        /// SETTINGS_MAX_CONCURRENT_STREAMS sent to the peer.
        public var maxConcurrentStreams: Int
        /// The largest body kept per stream; a longer one is dropped (see ``HTTP2Message/bodyTooLarge``).
        public var maxBody: Int
        /// The connection's receive window, granted up front so that small messages never wait for an update.
        public var connectionWindow: Int

        /// Settings for a DNS-over-HTTPS connection: bodies up to one DNS message (65,535 octets).
        public init(maxConcurrentStreams: Int, maxBody: Int = 65_535, connectionWindow: Int = 1 << 24) {
            self.maxConcurrentStreams = maxConcurrentStreams
            self.maxBody = maxBody
            self.connectionWindow = connectionWindow
        }
    }

    /// Hears requests, responses, closed streams and GOAWAY.
    public weak var delegate: (any HTTP2SessionDelegate)?
    public let role: Role
    let settings: Settings
    let allocator: ByteBufferAllocator
    private let session: OpaquePointer
    /// Streams whose message is still arriving (the one whose header block is being read is in
    /// ``decodingMessage``: HPACK blocks never interleave, RFC 9113 §4.3).
    var incoming: [Int32: HTTP2Message] = [:]
    /// The stream whose header block is being read, or 0.
    var decodingStream: Int32 = 0
    var decodingMessage = HTTP2Message()
    /// Bodies being sent, read by nghttp2's data source callback.
    var outgoing: [Int32: ByteBuffer] = [:]
    /// Request streams the peer has open (server).
    var openRequests = Set<Int32>()
    /// The SETTINGS frame leaving first still carries nghttp2's stream limit (see ``hardStreamLimit``).
    private var settingsToRewrite: Bool
    /// Where ``flushOutput(through:)`` gathers a tick's frames; its storage is used again once the write before has
    /// released it.
    private var output: ByteBuffer

    /// A session for `role`, with its SETTINGS and connection window queued as the first output.
    public init(role: Role, settings: Settings, allocator: ByteBufferAllocator) throws(HTTP2SessionError) {
        self.role = role
        self.settings = settings
        self.allocator = allocator
        self.settingsToRewrite = role == .server
        self.output = allocator.buffer(capacity: Self.outputCapacity)
        var callbacks: OpaquePointer?
        try Self.check(nghttp2_session_callbacks_new(&callbacks))
        defer { nghttp2_session_callbacks_del(callbacks) }
        HTTP2Callbacks.install(in: callbacks)
        var options: OpaquePointer?
        try Self.check(nghttp2_option_new(&options))
        defer { nghttp2_option_del(options) }
        // Closed streams are kept only for RFC 7540 priorities, which DoH does not use.
        nghttp2_option_set_no_closed_streams(options, 1)
        var created: OpaquePointer?
        switch role {
        case .server: try Self.check(nghttp2_session_server_new2(&created, callbacks, nil, options))
        case .client: try Self.check(nghttp2_session_client_new2(&created, callbacks, nil, options))
        }
        guard let created else { throw HTTP2SessionError(code: NGHTTP2_ERR_NOMEM.rawValue, description: "no session") }
        self.session = created
        nghttp2_session_set_user_data(created, Unmanaged.passUnretained(self).toOpaque())
        let streamLimit = role == .server ? Self.hardStreamLimit(settings) : settings.maxConcurrentStreams
        var entries = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue),
                                   value: UInt32(clamping: streamLimit)),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue), value: 1 << 16),
        ]
        // A client wants no pushed streams (RFC 9113 §6.5.2): DoH has no use for them.
        if role == .client {
            entries.append(nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_ENABLE_PUSH.rawValue), value: 0))
        }
        try Self.check(nghttp2_submit_settings(created, UInt8(NGHTTP2_FLAG_NONE.rawValue), &entries, entries.count))
        try Self.check(nghttp2_session_set_local_window_size(created, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0,
                                                             Int32(clamping: settings.connectionWindow)))
    }

    deinit {
        nghttp2_session_del(self.session)
    }

    /// Reads `bytes` from the peer; delegate calls happen during it. Throws when the connection is over: the
    /// caller writes the remaining output (a GOAWAY, when nghttp2 made one) and closes.
    public func receive(_ bytes: ByteBuffer) throws(HTTP2SessionError) {
        let read = bytes.withUnsafeReadableBytes { raw in
            nghttp2_session_mem_recv(self.session, raw.bindMemory(to: UInt8.self).baseAddress, raw.count)
        }
        if read < 0 { throw Self.error(Int32(truncatingIfNeeded: read)) }
    }

    /// Appends everything nghttp2 has to send (frames, acknowledgements, window updates) to `buffer`.
    public func drainOutput(into buffer: inout ByteBuffer) throws(HTTP2SessionError) {
        while true {
            var data: UnsafePointer<UInt8>?
            let length = nghttp2_session_mem_send(self.session, &data)
            if length < 0 { throw Self.error(Int32(truncatingIfNeeded: length)) }
            guard length > 0, let data else { return }
            let start = buffer.writerIndex
            buffer.writeBytes(UnsafeRawBufferPointer(start: data, count: length))
            if self.settingsToRewrite {
                self.settingsToRewrite = false
                Self.advertise(UInt32(clamping: self.settings.maxConcurrentStreams), inSettingsAt: start, of: &buffer)
            }
        }
    }

    /// The stream limit nghttp2 enforces on a server: twice the advertised one. nghttp2 1.52 ends the whole
    /// connection (PROTOCOL_ERROR) when a client passes the limit it enforces, where RFC 9113 §5.1.2 asks for a
    /// stream error; so the peer is told ``Settings/maxConcurrentStreams`` (the first SETTINGS frame is rewritten
    /// on its way out), a stream beyond that is refused with REFUSED_STREAM (HTTP2Callbacks), and only a client
    /// that keeps opening streams past twice the limit loses the connection.
    static func hardStreamLimit(_ settings: Settings) -> Int {
        settings.maxConcurrentStreams * 2
    }

    /// Rewrites the SETTINGS_MAX_CONCURRENT_STREAMS value of the SETTINGS frame at `start` in `buffer`.
    private static func advertise(_ limit: UInt32, inSettingsAt start: Int, of buffer: inout ByteBuffer) {
        guard let length = buffer.getInteger(at: start, as: UInt32.self).map({ Int($0 >> 8) }),
            buffer.getInteger(at: start + 3, as: UInt8.self) == UInt8(NGHTTP2_SETTINGS.rawValue)
        else { return }
        var entry = start + 9
        while entry + 6 <= start + 9 + length, entry + 6 <= buffer.writerIndex {
            if buffer.getInteger(at: entry, as: UInt16.self) == UInt16(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue) {
                buffer.setInteger(limit, at: entry + 2)
            }
            entry += 6
        }
    }

    /// Writes and flushes everything the session has to send through `context`, then closes the channel if the
    /// session is finished or broken. Call once per event loop tick (see `TickFlusher`).
    public func flushOutput(through context: ChannelHandlerContext) {
        var broken = false
        if nghttp2_session_want_write(self.session) != 0 {
            self.output.clear()
            do {
                try self.drainOutput(into: &self.output)
            } catch {
                broken = true
            }
            if self.output.readableBytes > 0 { context.writeAndFlush(NIOAny(self.output), promise: nil) }
        }
        if broken || self.isFinished { context.close(promise: nil) }
    }

    /// Room for a tick's frames before the output buffer grows (about eight DoH answers); small, because every
    /// open connection keeps its buffer.
    static let outputCapacity = 1024

    /// Nothing more to read or write: the connection can close (after GOAWAY both ways, or a fatal error).
    public var isFinished: Bool {
        nghttp2_session_want_read(self.session) == 0 && nghttp2_session_want_write(self.session) == 0
    }

    /// Streams whose request or response is still arriving.
    public var hasIncompleteStreams: Bool { !self.incoming.isEmpty || self.decodingStream != 0 }

    /// The highest stream the peer opened that this end read.
    public var lastProcessedStreamID: Int32 { nghttp2_session_get_last_proc_stream_id(self.session) }

    /// Whether `stream` is open (not yet closed or reset).
    public func isOpen(_ stream: Int32) -> Bool {
        nghttp2_session_find_stream(self.session, stream) != nil
    }

    /// Sends a response (server) on `stream` with `body`, if any; false when the stream is gone.
    @discardableResult
    public func respond(on stream: Int32, headers: [HTTP2HeaderField], body: ByteBuffer?) -> Bool {
        guard self.isOpen(stream) else { return false }
        let result = HTTP2HeaderBlock.withFields(headers) { fields, count in
            guard let body else { return nghttp2_submit_response(self.session, stream, fields, count, nil) }
            self.outgoing[stream] = body
            var provider = HTTP2Callbacks.bodyProvider
            return nghttp2_submit_response(self.session, stream, fields, count, &provider)
        }
        if result != 0 { self.outgoing[stream] = nil }
        return result == 0
    }

    /// Opens a stream with a request (client) and returns its ID, or nil when no stream can be opened (stream IDs
    /// spent, GOAWAY received).
    public func request(headers: [HTTP2HeaderField], body: ByteBuffer?) -> Int32? {
        let stream = HTTP2HeaderBlock.withFields(headers) { fields, count in
            guard body != nil else { return nghttp2_submit_request(self.session, nil, fields, count, nil, nil) }
            var provider = HTTP2Callbacks.bodyProvider
            return nghttp2_submit_request(self.session, nil, fields, count, &provider, nil)
        }
        guard stream > 0 else { return nil }
        self.incoming[stream] = HTTP2Message()
        if let body { self.outgoing[stream] = body }
        return stream
    }

    /// Resets `stream` with `code`.
    public func reset(_ stream: Int32, code: HTTP2ErrorCode) {
        nghttp2_submit_rst_stream(self.session, UInt8(NGHTTP2_FLAG_NONE.rawValue), stream, code.rawValue)
    }

    /// Sends GOAWAY naming the last stream this end processed (RFC 9113 §6.8): the peer opens no more streams, the
    /// open ones finish, then ``isFinished`` turns true.
    public func goAway(_ code: HTTP2ErrorCode = .noError) {
        nghttp2_submit_goaway(self.session, UInt8(NGHTTP2_FLAG_NONE.rawValue), self.lastProcessedStreamID,
                              code.rawValue, nil, 0)
    }

    /// The next stream ID this client end would open (how close it is to running out).
    public var nextStreamID: UInt32 { nghttp2_session_get_next_stream_id(self.session) }

    /// The name of an HTTP/2 error code (RFC 9113 §7), such as `REFUSED_STREAM`.
    public static func errorName(_ code: UInt32) -> String {
        String(cString: nghttp2_http2_strerror(code))
    }

    static func check(_ result: Int32) throws(HTTP2SessionError) {
        if result != 0 { throw Self.error(result) }
    }

    static func error(_ code: Int32) -> HTTP2SessionError {
        HTTP2SessionError(code: code, description: String(cString: nghttp2_strerror(code)))
    }
}
