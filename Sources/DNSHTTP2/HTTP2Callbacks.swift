internal import CNGHTTP2
import NIOCore

/// nghttp2's callbacks into an ``HTTP2Session`` (its user data): they collect each stream's message and hand it to
/// the delegate, and feed response and request bodies to nghttp2.
enum HTTP2Callbacks {
    static func install(in callbacks: OpaquePointer?) {
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks) { _, frame, user in
            guard let frame, let session = HTTP2Callbacks.session(user) else { return 0 }
            let stream = frame.pointee.hd.stream_id
            guard session.role == .server, frame.pointee.hd.type == UInt8(NGHTTP2_HEADERS.rawValue),
                frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST
            else { return 0 }
            // A stream beyond the advertised limit is refused (RFC 9113 §5.1.2), the connection kept.
            guard session.openRequests.count < session.settings.maxConcurrentStreams else {
                session.reset(stream, code: .refusedStream)
                return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue
            }
            session.openRequests.insert(stream)
            session.incoming[stream] = HTTP2Message()
            return 0
        }
        nghttp2_session_callbacks_set_on_header_callback(callbacks) { _, frame, name, nameLength, value, valueLength, _, user in
            guard let frame, let name, let value, let session = HTTP2Callbacks.session(user) else { return 0 }
            let stream = frame.pointee.hd.stream_id
            guard session.incoming[stream] != nil else { return 0 }
            HTTP2Callbacks.read(UnsafeBufferPointer(start: name, count: nameLength),
                                UnsafeBufferPointer(start: value, count: valueLength),
                                into: &session.incoming[stream, default: HTTP2Message()])
            return 0
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) { _, _, stream, data, length, user in
            guard let data, let session = HTTP2Callbacks.session(user) else { return 0 }
            session.append(UnsafeRawBufferPointer(start: data, count: length), on: stream)
            return 0
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, user in
            guard let frame, let session = HTTP2Callbacks.session(user) else { return 0 }
            let header = frame.pointee.hd
            switch UInt32(header.type) {
            case NGHTTP2_HEADERS.rawValue, NGHTTP2_DATA.rawValue:
                if header.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0 {
                    session.complete(header.stream_id)
                }
            case NGHTTP2_GOAWAY.rawValue:
                session.delegate?.http2Session(session, goAway: frame.pointee.goaway.last_stream_id)
            default:
                break
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, stream, errorCode, user in
            guard let session = HTTP2Callbacks.session(user) else { return 0 }
            session.incoming[stream] = nil
            session.outgoing[stream] = nil
            session.openRequests.remove(stream)
            session.delegate?.http2Session(session, closed: stream, errorCode: errorCode)
            return 0
        }
    }

    /// The data source of every body a session sends: the stream's buffer in ``HTTP2Session/outgoing``.
    static var bodyProvider: nghttp2_data_provider {
        nghttp2_data_provider(source: nghttp2_data_source(ptr: nil)) { _, stream, buffer, length, flags, _, user in
            guard let buffer, let flags, let session = HTTP2Callbacks.session(user) else {
                return Int(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue)
            }
            guard var body = session.outgoing[stream] else {
                flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
                return 0
            }
            let count = min(length, body.readableBytes)
            body.withUnsafeReadableBytes { bytes in
                UnsafeMutableRawBufferPointer(start: buffer, count: count).copyMemory(
                    from: UnsafeRawBufferPointer(rebasing: bytes[..<count]))
            }
            body.moveReaderIndex(forwardBy: count)
            if body.readableBytes == 0 {
                flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
                session.outgoing[stream] = nil
            } else {
                session.outgoing[stream] = body
            }
            return count
        }
    }

    private static func session(_ user: UnsafeMutableRawPointer?) -> HTTP2Session? {
        user.map { Unmanaged<HTTP2Session>.fromOpaque($0).takeUnretainedValue() }
    }

    /// Keeps the header fields DoH reads.
    private static func read(_ name: UnsafeBufferPointer<UInt8>, _ value: UnsafeBufferPointer<UInt8>,
                             into message: inout HTTP2Message) {
        if name.elementsEqual(":path".utf8) {
            message.path = String(decoding: value, as: UTF8.self)
        } else if name.elementsEqual(":method".utf8) {
            message.method = String(decoding: value, as: UTF8.self)
        } else if name.elementsEqual("content-type".utf8) {
            message.contentType = String(decoding: value, as: UTF8.self)
        } else if name.elementsEqual(":status".utf8), value.first != UInt8(ascii: "1") {
            message.status = String(decoding: value, as: UTF8.self)
        }
    }
}

extension HTTP2Session {
    /// Adds a DATA chunk to its stream's body; past the limit the body is dropped, and a client resets the stream
    /// at once (a server still answers the request, with its own error).
    func append(_ chunk: UnsafeRawBufferPointer, on stream: Int32) {
        guard var message = self.incoming.removeValue(forKey: stream) else { return }
        if message.bodyTooLarge || (message.body?.readableBytes ?? 0) + chunk.count > self.settings.maxBody {
            message.bodyTooLarge = true
            message.body = nil
            if self.role == .client {
                self.reset(stream, code: .cancel)
                self.delegate?.http2Session(self, received: message, on: stream)
                return
            }
        } else if message.body == nil {
            message.body = self.allocator.buffer(bytes: chunk)
        } else {
            message.body?.writeBytes(chunk)
        }
        self.incoming[stream] = message
    }

    /// The stream's message is whole: hands it to the delegate.
    func complete(_ stream: Int32) {
        guard let message = self.incoming.removeValue(forKey: stream) else { return }
        self.delegate?.http2Session(self, received: message, on: stream)
    }
}
