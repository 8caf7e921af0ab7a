import COpenSSL
import Foundation

/// What a TLS client context checks and offers.
public struct TLSClientConfiguration: Sendable, Hashable {
    /// ALPN protocols offered, most preferred first (`dot`, `h2`).
    public var applicationProtocols: [String]
    /// Whether the server's certificate chain and name are verified; without it the connection is encrypted but not
    /// authenticated (RFC 8310 opportunistic profile, or SPKI pins checked after the handshake).
    public var verifiesCertificates: Bool
    /// PEM files of trust anchors used besides the system's.
    public var additionalTrustAnchorFiles: [String]
    /// Whether sessions are kept and offered again on later connections.
    public var resumesSessions: Bool

    public init(applicationProtocols: [String] = [], verifiesCertificates: Bool = true,
                additionalTrustAnchorFiles: [String] = [], resumesSessions: Bool = true) {
        self.applicationProtocols = applicationProtocols
        self.verifiesCertificates = verifiesCertificates
        self.additionalTrustAnchorFiles = additionalTrustAnchorFiles
        self.resumesSessions = resumesSessions
    }
}

/// The TLS client settings shared by every connection to one upstream (an OpenSSL `SSL_CTX`), and the sessions its
/// servers issued. TLS 1.2 or later. Thread-safe: connections on any event loop are made from it.
public final class TLSClientContext: @unchecked Sendable {
    // @unchecked: the SSL_CTX is not changed after init, and OpenSSL makes connections from one context on many
    // threads at once; the session store has its own lock.
    let context: OpaquePointer
    let sessions: TLSSessionStore

    /// Where Linux distributions keep the system's trust anchors in one file, checked besides OpenSSL's own default
    /// paths so that a binary copied onto another distribution, or into a minimal container, still finds them.
    static let systemTrustBundles = [
        "/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/ca-bundle.pem",
        "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", "/etc/ssl/cert.pem",
    ]

    public init(configuration: TLSClientConfiguration) throws(TLSClientError) {
        guard let context = SSL_CTX_new(TLS_client_method()) else {
            throw .configuration(TLSClientError.drainedErrorQueue(or: "OpenSSL could not make a TLS context"))
        }
        self.context = context
        self.sessions = TLSSessionStore()
        guard dnsgate_ssl_ctx_set_min_version(context, TLS1_2_VERSION) == 1 else {
            throw .configuration(TLSClientError.drainedErrorQueue(or: "TLS 1.2 as the lowest version was refused"))
        }
        dnsgate_ssl_ctx_set_client_options(context)
        try self.configureTrust(configuration)
        try self.configureALPN(configuration.applicationProtocols)
        if configuration.resumesSessions {
            dnsgate_ssl_ctx_cache_sessions_externally(context)
            _ = dnsgate_ssl_ctx_set_app_data(context, Unmanaged.passUnretained(self.sessions).toOpaque())
            SSL_CTX_sess_set_new_cb(context, keepNewSession)
        }
    }

    deinit {
        SSL_CTX_free(self.context)
    }

    private func configureTrust(_ configuration: TLSClientConfiguration) throws(TLSClientError) {
        guard configuration.verifiesCertificates else {
            SSL_CTX_set_verify(self.context, SSL_VERIFY_NONE, nil)
            return
        }
        SSL_CTX_set_verify(self.context, SSL_VERIFY_PEER, nil)
        _ = SSL_CTX_set_default_verify_paths(self.context)
        if let bundle = Self.systemTrustBundles.first(where: { FileManager.default.isReadableFile(atPath: $0) }) {
            _ = SSL_CTX_load_verify_locations(self.context, bundle, nil)
        }
        ERR_clear_error()
        for path in configuration.additionalTrustAnchorFiles {
            guard SSL_CTX_load_verify_locations(self.context, path, nil) == 1 else {
                throw .configuration("\(path): " + TLSClientError.drainedErrorQueue(or: "no PEM certificate in it"))
            }
        }
    }

    private func configureALPN(_ protocols: [String]) throws(TLSClientError) {
        guard !protocols.isEmpty else { return }
        var wire: [UInt8] = []
        for name in protocols {
            let bytes = Array(name.utf8)
            guard (1...255).contains(bytes.count) else { throw .configuration("ALPN protocol '\(name)' is not 1-255 octets") }
            wire.append(UInt8(bytes.count))
            wire += bytes
        }
        // Unlike most of OpenSSL, 0 is success here.
        guard SSL_CTX_set_alpn_protos(self.context, wire, UInt32(wire.count)) == 0 else {
            throw .configuration(TLSClientError.drainedErrorQueue(or: "ALPN \(protocols) was refused"))
        }
    }

    /// Sessions kept for resumption now.
    public var storedSessions: Int { self.sessions.count }
}

/// OpenSSL's new-session callback: the store takes the session's reference (return 1).
private func keepNewSession(_ ssl: OpaquePointer?, _ session: OpaquePointer?) -> Int32 {
    guard let ssl, let session, let context = SSL_get_SSL_CTX(ssl),
        let store = dnsgate_ssl_ctx_get_app_data(context)
    else { return 0 }
    Unmanaged<TLSSessionStore>.fromOpaque(store).takeUnretainedValue().keep(session)
    return 1
}
