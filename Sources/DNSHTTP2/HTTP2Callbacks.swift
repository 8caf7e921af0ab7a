internal import CNGHTTP2
import Glibc
import NIOCore

/// nghttp2's callbacks into an ``HTTP2Session`` (its user data): they collect each stream's message and hand it to
/// the delegate, and feed response and request bodies to nghttp2.
enum HTTP2Callbacks {
    static func install(in callbacks: OpaquePointer?) {
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks) { _, frame, user in
            guard let frame, let session = HTTP2Callbacks.session(user),
                frame.pointee.hd.type == UInt8(NGHTTP2_HEADERS.rawValue)
            else { return 0 }
            let stream = frame.pointee.hd.stream_id
            if session.role == .server, frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST {
                // A stream beyond the advertised limit is refused (RFC 9113 §5.1.2), the connection kept.
                guard session.openRequests.count < session.settings.maxConcurrentStreams else {
                    session.reset(stream, code: .refusedStream)
                    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue
                }
                session.openRequests.insert(stream)
                session.startDecoding(HTTP2Message(), on: stream)
            } else if let message = session.incoming.removeValue(forKey: stream) {
                session.startDecoding(message, on: stream)
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_header_callback(callbacks) { _, frame, name, nameLength, value, valueLength, _, user in
            guard let frame, let name, let value, let session = HTTP2Callbacks.session(user),
                frame.pointee.hd.stream_id == session.decodingStream
            else { return 0 }
            HTTP2Callbacks.read(UnsafeBufferPointer(start: name, count: nameLength),
                                UnsafeBufferPointer(start: value, count: valueLength), into: &session.decodingMessage)
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
            case NGHTTP2_HEADERS.rawValue:
                session.finishDecoding(header.stream_id,
                                       endStream: header.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0)
            case NGHTTP2_DATA.rawValue:
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
            if session.decodingStream == stream { session.decodingStream = 0 }
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
        if Self.is(name, ":path") {
            message.path = String(decoding: value, as: UTF8.self)
        } else if Self.is(name, ":method") {
            message.method = String(decoding: value, as: UTF8.self)
        } else if Self.is(name, "content-type") {
            message.contentType = String(decoding: value, as: UTF8.self)
        } else if Self.is(name, ":status"), value.first != UInt8(ascii: "1") {
            message.status = String(decoding: value, as: UTF8.self)
        }
    }

    /// Whether `name` is `field` (nghttp2 has checked that names are lowercase).
    private static func `is`(_ name: UnsafeBufferPointer<UInt8>, _ field: StaticString) -> Bool {
        guard name.count == field.utf8CodeUnitCount, let start = name.baseAddress else { return false }
        return memcmp(start, field.utf8Start, name.count) == 0
    }
}

extension HTTP2Session {
    /// Adds a DATA chunk to its stream's body; past the limit the body is dropped, and a client resets the stream
    /// at once (a server still answers the request, with its own error).
    func append(_ chunk: UnsafeRawBufferPointer, on stream: Int32) {
        // One lookup, and the body grows in place.
        guard let index = self.incoming.index(forKey: stream) else { return }
        // Only sizes are read, so that no second reference to the body makes the write below copy it.
        let held = self.incoming.values[index].body?.readableBytes
        let fits = !self.incoming.values[index].bodyTooLarge && (held ?? 0) + chunk.count <= self.settings.maxBody
        guard fits else {
            self.incoming.values[index].bodyTooLarge = true
            self.incoming.values[index].body = nil
            if self.role == .client, let dropped = self.incoming.removeValue(forKey: stream) {
                self.reset(stream, code: .cancel)
                self.delegate?.http2Session(self, received: dropped, on: stream)
            }
            return
        }
        if held == nil {
            self.incoming.values[index].body = self.allocator.buffer(bytes: chunk)
        } else {
            self.incoming.values[index].body?.writeBytes(chunk)
        }
    }

    /// A header block starts on `stream`: its fields go to `message` (stream 0 is never a request's).
    func startDecoding(_ message: HTTP2Message, on stream: Int32) {
        self.decodingStream = stream
        self.decodingMessage = message
    }

    /// The header block on `stream` is read: the message is whole (`endStream`) or waits for its body.
    func finishDecoding(_ stream: Int32, endStream: Bool) {
        guard stream == self.decodingStream else { return }
        self.decodingStream = 0
        if endStream {
            self.delegate?.http2Session(self, received: self.decodingMessage, on: stream)
        } else {
            self.incoming[stream] = self.decodingMessage
        }
        self.decodingMessage = HTTP2Message()
    }

    /// The stream's message is whole: hands it to the delegate.
    func complete(_ stream: Int32) {
        guard let message = self.incoming.removeValue(forKey: stream) else { return }
        self.delegate?.http2Session(self, received: message, on: stream)
    }
}
