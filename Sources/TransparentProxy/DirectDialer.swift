import DNSCore
import NIOCore
import NIOPosix

/// Resolves the domain through the pipeline (cache and upstreams) and connects from here: TCP tries the addresses
/// in turn (IPv6 first, see ``NameResolver``), each within the connect timeout; UDP sends to the first address of
/// the fake address's family.
struct DirectDialer: Dialer {
    let resolver: NameResolver
    let connectTimeout: TimeAmount

    func connect(to domain: String, port: Int, on loop: any EventLoop) -> EventLoopFuture<any Channel> {
        self.resolver.addresses(of: domain, on: loop).flatMap { addresses in
            self.dial(addresses[...], port: port, on: loop)
        }
    }

    func datagramPath(to domain: String, port: Int, preferring fake: IPAddress, on loop: any EventLoop)
        -> EventLoopFuture<DatagramPath>
    {
        self.resolver.addresses(of: domain, on: loop).flatMapThrowing { addresses in
            let preferred = addresses.first { $0.isIPv4 == fake.isIPv4 } ?? addresses.first
            guard let address = preferred, let real = try? SocketAddress(ipAddress: "\(address)", port: port) else {
                throw TransparentProxyError.noAddress
            }
            return DatagramPath(peer: real)
        }
    }

    /// Connects to each address in turn until one answers.
    private func dial(_ addresses: ArraySlice<IPAddress>, port: Int, on loop: any EventLoop)
        -> EventLoopFuture<any Channel>
    {
        guard let address = addresses.first else {
            return loop.makeFailedFuture(TransparentProxyError.unreachable)
        }
        guard let socketAddress = try? SocketAddress(ipAddress: "\(address)", port: port) else {
            return self.dial(addresses.dropFirst(), port: port, on: loop)
        }
        return ClientBootstrap(group: loop)
            .connectTimeout(self.connectTimeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try TransparentTCPProxy.prepareRelaySide(channel) {}
                }
            }
            .connect(to: socketAddress)
            .flatMapError { error in
                addresses.count > 1
                    ? self.dial(addresses.dropFirst(), port: port, on: loop) : loop.makeFailedFuture(error)
            }
    }
}
