import COpenSSL
import Synchronization

/// The sessions an upstream's servers gave dnsgate, for resuming them on the next connection (RFC 5077, RFC 8446
/// §2.2): a resumed handshake skips the certificate chain and its checks, and with TLS 1.2 a round trip.
///
/// TLS 1.3 tickets are used once each (RFC 8446 §C.4: reuse lets an observer link connections), so a connection
/// takes one away; a TLS 1.2 session stays for every connection until a newer one replaces it.
final class TLSSessionStore: Sendable {
    /// One reference to an OpenSSL `SSL_SESSION`, which OpenSSL lets any thread use.
    struct Session: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    /// The newest sessions last.
    private let sessions = Mutex<[Session]>([])
    private let capacity: Int

    init(capacity: Int = 8) {
        self.capacity = capacity
    }

    deinit {
        self.sessions.withLock { sessions in
            for session in sessions { SSL_SESSION_free(session.pointer) }
        }
    }

    /// Keeps `session`, whose reference now belongs to the store; the oldest goes when the store is full.
    func keep(_ session: OpaquePointer) {
        let evicted: Session? = self.sessions.withLock { sessions in
            sessions.append(Session(pointer: session))
            return sessions.count > self.capacity ? sessions.removeFirst() : nil
        }
        if let evicted { SSL_SESSION_free(evicted.pointer) }
    }

    /// A session to offer on a new connection, with a reference the caller frees, or nil.
    func take() -> OpaquePointer? {
        let (usable, discarded): (Session?, [Session]) = self.sessions.withLock { sessions in
            var discarded: [Session] = []
            while let session = sessions.popLast() {
                guard SSL_SESSION_is_resumable(session.pointer) == 1, !Self.hasExpired(session.pointer) else {
                    discarded.append(session)
                    continue
                }
                if SSL_SESSION_get_protocol_version(session.pointer) < TLS1_3_VERSION {
                    sessions.append(session)
                    SSL_SESSION_up_ref(session.pointer)
                }
                return (session, discarded)
            }
            return (nil, discarded)
        }
        for session in discarded { SSL_SESSION_free(session.pointer) }
        return usable?.pointer
    }

    /// Sessions held now.
    var count: Int { self.sessions.withLock { $0.count } }

    private static func hasExpired(_ session: OpaquePointer) -> Bool {
        SSL_SESSION_get_time(session) + SSL_SESSION_get_timeout(session) <= time(nil)
    }
}
