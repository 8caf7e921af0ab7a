import DNSCore
import NIOCore
import NIOHTTP1
import NIOTLS

/// Sets up a DoH connection (RFC 8484) after its TLS handler: HTTP/2 on libnghttp2 (``DoHStreamServer``) when the
/// client negotiated `h2`, HTTP/1.1 (``DoHRequestHandler``) otherwise.
enum DoHServer {
    /// A connection that has not chosen a protocol within `configuration.tcpIdleTimeout` (a client that connects
    /// and says nothing, or stalls in the TLS handshake) is closed, like any idle one.
    static func configure(_ channel: any Channel, path: String, listener: Int, pipeline: any DNSHandler,
                          configuration: FrontendConfiguration) throws {
        let negotiation = channel.eventLoop.scheduleTask(in: configuration.tcpIdleTimeout) {
            channel.close(promise: nil)
        }
        channel.closeFuture.whenComplete { _ in negotiation.cancel() }
        let chooser = ApplicationProtocolNegotiationHandler { result, channel in
            negotiation.cancel()
            return channel.eventLoop.makeCompletedFuture {
                let sync = channel.pipeline.syncOperations
                switch result {
                case .negotiated("h2"):
                    try sync.addHandler(DoHStreamServer(
                        path: path, listener: listener, pipeline: pipeline, queryTimeout: configuration.queryTimeout,
                        idleTimeout: configuration.tcpIdleTimeout,
                        maxConcurrentStreams: configuration.maxTCPQueriesPerConnection))
                case .negotiated("http/1.1"), .fallback:
                    try sync.configureHTTPServerPipeline(withErrorHandling: true)
                    try sync.addHandler(DoHRequestHandler(
                        path: path, listener: listener, pipeline: pipeline, queryTimeout: configuration.queryTimeout,
                        idleTimeout: configuration.tcpIdleTimeout))
                case .negotiated:
                    // Only h2 and http/1.1 are offered (ServerTLSContext).
                    channel.close(promise: nil)
                }
            }
        }
        try channel.pipeline.syncOperations.addHandler(chooser)
    }
}
