import DNSQUIC
import NIOConcurrencyHelpers
import NIOCore

/// The DoQ listener's QUIC endpoint, made again from the certificate files whenever ``ServerTLSContext`` has reloaded
/// them: new connections get the renewed certificate, open ones keep the endpoint they were accepted with (their
/// TLS sessions point into it, so each keeps it alive). Shared by the listener's event loops.
final class QUICServerCertificate: Sendable {
    private let tls: ServerTLSContext
    private let maxStreams: Int
    private let idleTimeout: TimeAmount
    private let state: NIOLockedValueBox<(endpoint: QUICServerEndpoint, generation: Int)>

    /// Makes the first endpoint now; throws when the files cannot be used.
    init(tls: ServerTLSContext, maxStreams: Int, idleTimeout: TimeAmount) throws(QUICEndpointError) {
        self.tls = tls
        self.maxStreams = maxStreams
        self.idleTimeout = idleTimeout
        let generation = tls.generation
        self.state = NIOLockedValueBox((try Self.endpoint(tls, maxStreams, idleTimeout), generation))
    }

    /// The endpoint for a connection accepted now.
    var current: QUICServerEndpoint {
        let generation = self.tls.generation
        return self.state.withLockedValue { state in
            guard state.generation != generation else { return state.endpoint }
            // The files were reloaded (and checked) by the TLS context; should GnuTLS still refuse them, the
            // previous certificate stays, as for DoT and DoH.
            if let renewed = try? Self.endpoint(self.tls, self.maxStreams, self.idleTimeout) {
                state.endpoint = renewed
            }
            state.generation = generation
            return state.endpoint
        }
    }

    private static func endpoint(_ tls: ServerTLSContext, _ maxStreams: Int, _ idleTimeout: TimeAmount)
        throws(QUICEndpointError) -> QUICServerEndpoint
    {
        try QUICServerEndpoint(certificateFile: tls.certificateFile, keyFile: tls.keyFile, alpn: "doq",
                               maxStreams: maxStreams, idleTimeout: idleTimeout)
    }
}
