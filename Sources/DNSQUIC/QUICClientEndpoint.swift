import CQUIC
import Glibc

/// A QUIC client's shared state on the C side (``CQUIC``): the ALPN it offers and how it authenticates servers
/// (the system's trust store plus extra PEM trust anchors, or not at all for the opportunistic profile). Read-only
/// once made; connections made from it may live on any thread, each on one.
public final class QUICClientEndpoint: @unchecked Sendable {
    // @unchecked: the C object is never written after `cquic_client_new`.
    /// The C endpoint, for `cquic_connect`.
    public let pointer: OpaquePointer

    /// Loads the trust anchors; throws with GnuTLS's reason when a file cannot be used.
    public init(alpn: String, trustAnchorFiles: [String], verifiesCertificates: Bool) throws(QUICEndpointError) {
        var message = [CChar](repeating: 0, count: 256)
        let files = trustAnchorFiles.map { strdup($0) }
        defer { files.forEach { free($0) } }
        let pointer = files.map { UnsafePointer($0) }.withUnsafeBufferPointer { list in
            cquic_client_new(alpn, list.baseAddress, list.count, verifiesCertificates ? 1 : 0, &message, message.count)
        }
        guard let pointer else { throw QUICEndpointError(message: message) }
        self.pointer = pointer
    }

    deinit {
        cquic_client_free(self.pointer)
    }
}
