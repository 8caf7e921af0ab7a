import NIOCore
import DNSCore

extension UpstreamAddress {
    /// Opens a channel to this upstream: straight to an IP literal, through the system resolver for a name when
    /// there is no bootstrap resolver, or to each address the bootstrap servers give for the name in turn until
    /// one accepts. Called on `eventLoop`.
    func connect(resolver: BootstrapResolver?, on eventLoop: any EventLoop,
                 byName: (_ host: String, _ port: Int) -> EventLoopFuture<any Channel>,
                 byAddress: @escaping (SocketAddress) -> EventLoopFuture<any Channel>)
        -> EventLoopFuture<any Channel>
    {
        guard let resolver, !self.hostIsIPLiteral else { return byName(self.host, self.port) }
        return resolver.addresses(of: self.host, port: self.port, on: eventLoop).assumeIsolated().flatMap { addresses in
            Self.connectFirst(of: addresses[...], byAddress: byAddress, on: eventLoop)
        }.nonisolated()
    }

    private static func connectFirst(of addresses: ArraySlice<SocketAddress>,
                                     byAddress: @escaping (SocketAddress) -> EventLoopFuture<any Channel>,
                                     on eventLoop: any EventLoop) -> EventLoopFuture<any Channel> {
        guard let first = addresses.first else {
            return eventLoop.makeFailedFuture(ChannelError.connectTimeout(.zero))
        }
        let rest = addresses.dropFirst()
        return byAddress(first).assumeIsolated().flatMapError { error in
            rest.isEmpty ? eventLoop.makeFailedFuture(error) : Self.connectFirst(of: rest, byAddress: byAddress, on: eventLoop)
        }.nonisolated()
    }
}
