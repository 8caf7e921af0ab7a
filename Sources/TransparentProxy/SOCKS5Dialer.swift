import NIOCore
import NIOPosix

/// Opens a TCP connection to a SOCKS5 server and completes one request on it within the connect timeout: a
/// CONNECT (the connection then carries the relayed stream) or a UDP ASSOCIATE (the connection then keeps the
/// association alive, and the reply names the relay).
struct SOCKS5Dialer {
    let server: SOCKS5Server
    let connectTimeout: TimeAmount

    /// The connection once the server granted `command`, with the address in its reply; fails when the server
    /// is unreachable, refuses, or does not answer in time (the connection is closed then).
    func open(_ command: SOCKS5Command, on loop: any EventLoop) -> EventLoopFuture<(any Channel, SocketAddress?)> {
        let established = loop.makePromise(of: SocketAddress?.self)
        let server = self.server
        return ClientBootstrap(group: loop)
            .connectTimeout(self.connectTimeout)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
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
                    established.fail(SOCKS5Error(description: "the SOCKS5 server did not answer in time"))
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
