import DNSCore
import NIOCore
import NIOPosix

/// Reaches domains through a SOCKS5 server, sending it the domain name to resolve: TCP with a CONNECT (the
/// connection then carries the relayed stream), UDP with a UDP ASSOCIATE (the connection then keeps the association
/// alive, and the reply names the relay that takes the datagrams, each headed with the domain).
struct SOCKS5Dialer: Dialer {
    let server: SOCKS5Server
    let connectTimeout: TimeAmount

    func connect(to domain: String, port: Int, on loop: any EventLoop) -> EventLoopFuture<any Channel> {
        self.open(.connect(domain: domain, port: port), on: loop).map(\.0)
    }

    func datagramPath(to domain: String, port: Int, preferring fake: IPAddress, on loop: any EventLoop)
        -> EventLoopFuture<DatagramPath>
    {
        let server = self.server
        return self.open(.udpAssociate, on: loop).flatMapThrowing { control, bound in
            guard let bound, let relayPort = bound.port else {
                control.close(promise: nil)
                throw SOCKS5Error.noRelayAddress
            }
            // A relay on "any address" is on the server's own address (RFC 1928 leaves this to the client).
            var relay = bound
            if bound.ipAddress == "0.0.0.0" || bound.ipAddress == "::" {
                relay = server.address
                relay.port = relayPort
            }
            return DatagramPath(peer: relay, header: SOCKS5UDPHeader.header(domain: domain, port: port),
                                payload: SOCKS5UDPHeader.payload(of:), control: control)
        }
    }

    /// The connection once the server granted `command`, with the address in its reply; fails when the server
    /// is unreachable, refuses, or does not answer in time (the connection is closed then).
    func open(_ command: SOCKS5Command, on loop: any EventLoop) -> EventLoopFuture<(any Channel, SocketAddress?)> {
        let established = loop.makePromise(of: SocketAddress?.self)
        let server = self.server
        return ClientBootstrap(group: loop)
            .connectTimeout(self.connectTimeout)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(
                        SOCKS5Handshake(server: server, command: command, established: established),
                        EarlyInputBuffer {})
                }
            }
            .connect(to: server.address)
            .flatMap { channel in
                let timeout = loop.scheduleTask(in: self.connectTimeout) {
                    established.fail(SOCKS5Error.timedOut)
                }
                return established.futureResult.map { bound in
                    timeout.cancel()
                    return (channel, bound)
                }.flatMapErrorThrowing { error in
                    channel.close(promise: nil)
                    throw error
                }
            }
            .flatMapErrorThrowing { error in
                established.fail(error)
                throw error
            }
    }
}
