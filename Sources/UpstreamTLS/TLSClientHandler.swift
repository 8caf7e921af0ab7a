import COpenSSL
public import NIOCore
import NIOTLS

/// The client end of one TLS connection (OpenSSL through memory BIOs): encrypts what is written, decrypts what is
/// read, and offers a session from its context's store so that reconnects resume. Application data written before
/// the handshake completes waits for it; ``TLSUserEvent/handshakeCompleted(negotiatedProtocol:)`` is fired inbound
/// when it does. Writes flushed together leave in one TLS record (up to 16 KiB), as pipelined DNS queries should.
public final class TLSClientHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private enum State {
        case idle
        case handshaking
        case active
        case closed
    }

    private let context: TLSClientContext
    private let ssl: OpaquePointer
    /// Ciphertext read from the socket, for OpenSSL to take.
    private let networkIn: OpaquePointer
    /// Ciphertext OpenSSL produced, to be written to the socket.
    private let networkOut: OpaquePointer
    private var state = State.idle
    /// Written and not yet flushed.
    private var unflushed: [(ByteBuffer, EventLoopPromise<Void>?)] = []
    /// Flushed and waiting for the handshake to complete.
    private var flushed: [(ByteBuffer, EventLoopPromise<Void>?)] = []

    /// Whether the handshake resumed an earlier session (no certificate was sent).
    public private(set) var resumedSession = false
    /// The ALPN protocol the server chose, once the handshake has completed.
    public private(set) var negotiatedProtocol: String?

    /// - Parameters:
    ///   - serverName: the name (or IP address) the certificate must be valid for; a name is also sent as SNI
    ///     (RFC 6066 names no addresses).
    ///   - offersApplicationProtocols: false to leave out the context's ALPN protocols on this connection, for a
    ///     server that refused them.
    public init(context: TLSClientContext, serverName: String,
                offersApplicationProtocols: Bool = true) throws(TLSClientError) {
        guard let ssl = SSL_new(context.context) else {
            throw .configuration(TLSClientError.drainedErrorQueue(or: "OpenSSL could not make a connection"))
        }
        guard let networkIn = dnsgate_bio_new_nonblocking_memory(),
            let networkOut = dnsgate_bio_new_nonblocking_memory()
        else {
            SSL_free(ssl)
            throw .configuration("OpenSSL could not make memory buffers")
        }
        SSL_set_bio(ssl, networkIn, networkOut)
        SSL_set_connect_state(ssl)
        // An empty list turns ALPN off for this connection (SSL_set_alpn_protos returns 0 on success).
        if !offersApplicationProtocols, SSL_set_alpn_protos(ssl, nil, 0) != 0 {
            SSL_free(ssl)
            throw .configuration(TLSClientError.drainedErrorQueue(or: "ALPN could not be turned off"))
        }
        self.context = context
        self.ssl = ssl
        self.networkIn = networkIn
        self.networkOut = networkOut
        try self.setServerName(serverName)
        if let session = context.sessions.take() {
            SSL_set_session(ssl, session)
            SSL_SESSION_free(session)
        }
    }

    deinit {
        SSL_free(self.ssl)
    }

    private func setServerName(_ name: String) throws(TLSClientError) {
        if IPLiteral.isAddress(name) {
            guard X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(self.ssl), name) == 1 else {
                throw .configuration("'\(name)' is not an IP address OpenSSL can check a certificate for")
            }
            return
        }
        SSL_set_hostflags(self.ssl, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
        guard SSL_set1_host(self.ssl, name) == 1, dnsgate_ssl_set_server_name(self.ssl, name) == 1 else {
            throw .configuration(TLSClientError.drainedErrorQueue(or: "'\(name)' is not a usable TLS server name"))
        }
    }

    /// The DER SubjectPublicKeyInfo of the server's certificate (kept in the session when it was resumed), or nil.
    public var peerPublicKey: [UInt8]? {
        guard let certificate = SSL_get0_peer_certificate(self.ssl),
            let key = X509_get_X509_PUBKEY(certificate)
        else { return nil }
        let length = i2d_X509_PUBKEY(key, nil)
        guard length > 0 else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(length))
        let written = bytes.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var cursor = buffer.baseAddress
            return i2d_X509_PUBKEY(key, &cursor)
        }
        return written == length ? bytes : nil
    }

    // MARK: Handshake

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { self.startHandshake(context: context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        self.startHandshake(context: context)
        context.fireChannelActive()
    }

    private func startHandshake(context: ChannelHandlerContext) {
        guard self.state == .idle else { return }
        self.state = .handshaking
        self.continueHandshake(context: context)
    }

    private func continueHandshake(context: ChannelHandlerContext) {
        ERR_clear_error()
        let result = SSL_do_handshake(self.ssl)
        if self.sendNetworkOutput(context: context, promise: nil) { context.flush() }
        guard result == 1 else {
            let error = SSL_get_error(self.ssl, result)
            if error == SSL_ERROR_WANT_READ { return }
            self.fail(context: context, error: self.handshakeFailure())
            return
        }
        self.state = .active
        self.resumedSession = SSL_session_reused(self.ssl) == 1
        self.negotiatedProtocol = self.selectedProtocol()
        context.fireUserInboundEventTriggered(TLSUserEvent.handshakeCompleted(negotiatedProtocol: self.negotiatedProtocol))
        self.encryptFlushedWrites(context: context)
        // Application data may have come in the same read as the end of the handshake.
        self.decrypt(context: context)
    }

    private func handshakeFailure() -> TLSClientError {
        let verification = SSL_get_verify_result(self.ssl)
        guard verification == X509_V_OK else {
            ERR_clear_error()
            let reason = X509_verify_cert_error_string(verification).map { String(cString: $0) } ?? "\(verification)"
            return .handshake("certificate verify failed: \(reason)")
        }
        let refusesProtocols = dnsgate_err_is_no_application_protocol(ERR_peek_error()) == 1
        let reason = TLSClientError.drainedErrorQueue(or: "the TLS handshake failed")
        return refusesProtocols ? .applicationProtocolRefused(reason) : .handshake(reason)
    }

    private func selectedProtocol() -> String? {
        var data: UnsafePointer<UInt8>? = nil
        var length: UInt32 = 0
        SSL_get0_alpn_selected(self.ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }

    // MARK: Reading

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let ciphertext = self.unwrapInboundIn(data)
        guard self.state == .handshaking || self.state == .active else { return }
        let taken = ciphertext.withUnsafeReadableBytes { bytes in
            BIO_write(self.networkIn, bytes.baseAddress, Int32(bytes.count))
        }
        guard taken == ciphertext.readableBytes else {
            self.fail(context: context, error: .connection("OpenSSL did not take \(ciphertext.readableBytes) octets"))
            return
        }
        if self.state == .handshaking {
            self.continueHandshake(context: context)
        } else {
            self.decrypt(context: context, expected: ciphertext.readableBytes)
        }
    }

    /// Reads every whole record OpenSSL holds and passes the plaintext on in one buffer.
    private func decrypt(context: ChannelHandlerContext, expected: Int = 0) {
        guard self.state == .active else { return }
        ERR_clear_error()
        // Plaintext is never longer than the ciphertext it came in, bar a record split across reads.
        var plaintext = context.channel.allocator.buffer(capacity: max(expected, 1024))
        var outcome: Int32 = SSL_ERROR_NONE
        while outcome == SSL_ERROR_NONE {
            plaintext.writeWithUnsafeMutableBytes(minimumWritableBytes: 512) { space in
                let result = SSL_read(self.ssl, space.baseAddress, Int32(min(space.count, Int(Int32.max))))
                guard result > 0 else {
                    outcome = SSL_get_error(self.ssl, result)
                    return 0
                }
                return Int(result)
            }
        }
        if plaintext.readableBytes > 0 { context.fireChannelRead(self.wrapInboundOut(plaintext)) }
        switch outcome {
        case SSL_ERROR_WANT_READ:
            // TLS 1.3 post-handshake messages (KeyUpdate) may want an answer.
            if self.sendNetworkOutput(context: context, promise: nil) { context.flush() }
        case SSL_ERROR_ZERO_RETURN:
            // The server's close_notify: nothing more will come.
            context.close(promise: nil)
        default:
            self.fail(context: context, error: .connection(TLSClientError.drainedErrorQueue(
                or: "a TLS record did not decrypt (OpenSSL error \(outcome))")))
        }
    }

    // MARK: Writing

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard self.state != .closed else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        self.unflushed.append((self.unwrapOutboundIn(data), promise))
    }

    public func flush(context: ChannelHandlerContext) {
        self.flushed += self.unflushed
        self.unflushed.removeAll(keepingCapacity: true)
        if self.state == .active { self.encryptFlushedWrites(context: context) }
    }

    /// Encrypts the flushed writes as one plaintext run and writes the records out.
    private func encryptFlushedWrites(context: ChannelHandlerContext) {
        guard !self.flushed.isEmpty else { return }
        let writes = self.flushed
        self.flushed.removeAll(keepingCapacity: true)
        var plaintext: ByteBuffer
        if writes.count == 1 {
            plaintext = writes[0].0
        } else {
            plaintext = context.channel.allocator.buffer(capacity: writes.reduce(0) { $0 + $1.0.readableBytes })
            for (buffer, _) in writes { plaintext.writeImmutableBuffer(buffer) }
        }
        let promises = writes.compactMap(\.1)
        ERR_clear_error()
        if plaintext.readableBytes > 0 {
            let result = plaintext.withUnsafeReadableBytes { bytes in
                SSL_write(self.ssl, bytes.baseAddress, Int32(bytes.count))
            }
            guard result == plaintext.readableBytes else {
                let error = TLSClientError.connection(TLSClientError.drainedErrorQueue(
                    or: "OpenSSL did not encrypt the write (error \(SSL_get_error(self.ssl, result)))"))
                for promise in promises { promise.fail(error) }
                self.fail(context: context, error: error)
                return
            }
        }
        var sent: EventLoopPromise<Void>? = nil
        if !promises.isEmpty {
            let all = context.eventLoop.makePromise(of: Void.self)
            for promise in promises { all.futureResult.cascade(to: promise) }
            sent = all
        }
        self.sendNetworkOutput(context: context, promise: sent)
        context.flush()
    }

    /// Writes what OpenSSL produced to the socket; `promise` completes with that write, or at once when there was
    /// nothing. Returns whether anything was written (and wants a flush).
    @discardableResult
    private func sendNetworkOutput(context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) -> Bool {
        let pending = BIO_ctrl_pending(self.networkOut)
        guard pending > 0 else {
            promise?.succeed(())
            return false
        }
        var ciphertext = context.channel.allocator.buffer(capacity: pending)
        ciphertext.writeWithUnsafeMutableBytes(minimumWritableBytes: pending) { space in
            Int(max(0, BIO_read(self.networkOut, space.baseAddress, Int32(pending))))
        }
        context.write(self.wrapOutboundOut(ciphertext), promise: promise)
        return true
    }

    // MARK: Closing

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard mode == .all else {
            context.close(mode: mode, promise: promise)
            return
        }
        if self.state == .active {
            // close_notify, without waiting for the server's: a client may close at once (RFC 8446 §6.1).
            ERR_clear_error()
            _ = SSL_shutdown(self.ssl)
            if self.sendNetworkOutput(context: context, promise: nil) { context.flush() }
        }
        self.state = .closed
        self.failPendingWrites(ChannelError.ioOnClosedChannel)
        context.close(mode: mode, promise: promise)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        let wasHandshaking = self.state == .handshaking
        self.state = .closed
        self.failPendingWrites(ChannelError.ioOnClosedChannel)
        if wasHandshaking { context.fireErrorCaught(TLSClientError.closedDuringHandshake) }
        context.fireChannelInactive()
    }

    private func fail(context: ChannelHandlerContext, error: TLSClientError) {
        guard self.state != .closed else { return }
        self.state = .closed
        self.failPendingWrites(error)
        context.fireErrorCaught(error)
        context.close(promise: nil)
    }

    private func failPendingWrites(_ error: any Error) {
        let pending = self.unflushed + self.flushed
        self.unflushed.removeAll()
        self.flushed.removeAll()
        for (_, promise) in pending { promise?.fail(error) }
    }
}

/// Tells IP address literals from host names.
enum IPLiteral {
    static func isAddress(_ text: String) -> Bool {
        (try? SocketAddress(ipAddress: text, port: 0)) != nil
    }
}
