import DNSCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTP2

/// Sets up a DoH connection (RFC 8484) after its TLS handler: HTTP/2 when the client negotiated `h2`, HTTP/1.1
/// otherwise, each request (an HTTP/2 stream, or one HTTP/1.1 exchange at a time) served by a ``DoHRequestHandler``.
enum DoHServer {
    static func configure(_ channel: any Channel, path: String, pipeline: any DNSHandler,
                          configuration: FrontendConfiguration, logger: Logger) throws {
        _ = channel.configureCommonHTTPServerPipeline { requestChannel in
            requestChannel.eventLoop.makeCompletedFuture {
                try requestChannel.pipeline.syncOperations.addHandler(DoHRequestHandler(
                    path: path, pipeline: pipeline, queryTimeout: configuration.queryTimeout,
                    client: channel.remoteAddress))
            }
        }
    }
}
