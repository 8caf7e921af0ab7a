import DNSCore
import DNSQUIC
import NIOCore
import NIOPosix

/// DNS-over-QUIC connections (RFC 9250): a connected UDP socket whose ``DoQMultiplexer`` has finished its
/// handshake (certificate, pins) before the channel is handed out, so that no query goes to an unverified server.
struct QUICConnector: UpstreamConnector {
    let address: UpstreamAddress
    let settings: DoQMultiplexer.Settings
    let options: UpstreamConnectionOptions
    /// Where a host name is resolved, or nil for the system resolver.
    var resolver: BootstrapResolver? = nil

    func carrier(of channel: any Channel) -> (any QueryCarrier)? {
        try? channel.pipeline.syncOperations.handler(type: DoQMultiplexer.self)
    }

    func connect(on eventLoop: any EventLoop) -> EventLoopFuture<any Channel> {
        let settings = self.settings
        let address = self.address
        let handshake = eventLoop.makePromise(of: Void.self)
        let bootstrap = DatagramBootstrap(group: eventLoop)
            .channelOption(.socketOption(.so_rcvbuf), value: DatagramConnector.receiveBufferSize)
            .channelOption(.datagramVectorReadMessageCount, value: QUICConnection.vectorReadCount)
            .channelOption(.recvAllocator, value: QUICConnection.receiveAllocator)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DoQMultiplexer(settings: settings,
                                                                                  handshake: handshake))
                }
            }
        let connected = address.connect(resolver: self.resolver, on: eventLoop,
                                        byName: { bootstrap.connect(host: $0, port: $1) },
                                        byAddress: { bootstrap.connect(to: $0) })
        return connected.afterHandshake(handshake, within: self.options.connectTimeout,
                                        upstream: address.description, protocolName: "QUIC", on: eventLoop)
    }
}
