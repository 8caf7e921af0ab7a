import DNSCore
import NIOCore
import NIOHTTP1
import NIOHTTP2

/// Sets up a DoH connection (RFC 8484) after its TLS handler: HTTP/2 (``DoHStreamServer``) when the client
/// negotiated `h2`, HTTP/1.1 (``DoHRequestHandler``) otherwise.
enum DoHServer {
    /// A connection that has not chosen a protocol within `configuration.tcpIdleTimeout` (a client that connects
    /// and says nothing, or stalls in the TLS handshake) is closed, like any idle one.
    static func configure(_ channel: any Channel, path: String, listener: Int, pipeline: any DNSHandler,
                          configuration: FrontendConfiguration) throws {
        let negotiation = channel.eventLoop.scheduleTask(in: configuration.tcpIdleTimeout) {
            channel.close(promise: nil)
        }
        channel.closeFuture.whenComplete { _ in negotiation.cancel() }
        _ = channel.configureHTTP2SecureUpgrade(
            h2ChannelConfigurator: { channel in
                negotiation.cancel()
                return channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    // Header blocks are not validated: the handler reads three headers and answers anything else
                    // with an HTTP error, and the validation cost a tenth of the CPU per query.
                    try sync.addHandler(NIOHTTP2Handler(mode: .server, initialSettings: [
                        HTTP2Setting(parameter: .maxConcurrentStreams,
                                     value: configuration.maxTCPQueriesPerConnection),
                        HTTP2Setting(parameter: .maxHeaderListSize, value: 1 << 16),
                    ], headerBlockValidation: .disabled))
                    try sync.addHandler(DoHStreamServer(path: path, listener: listener, pipeline: pipeline,
                                                        queryTimeout: configuration.queryTimeout,
                                                        idleTimeout: configuration.tcpIdleTimeout))
                }
            },
            http1ChannelConfigurator: { channel in
                negotiation.cancel()
                return channel.pipeline.configureHTTPServerPipeline(withErrorHandling: true).flatMapThrowing {
                    try channel.pipeline.syncOperations.addHandler(DoHRequestHandler(
                        path: path, listener: listener, pipeline: pipeline, queryTimeout: configuration.queryTimeout,
                        idleTimeout: configuration.tcpIdleTimeout))
                }
            })
    }
}
