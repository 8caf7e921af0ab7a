// reference-forwarder LISTEN_PORT UPSTREAM_PORT: UDP on 127.0.0.1:LISTEN_PORT forwarded to a UDP upstream on
// 127.0.0.1:UPSTREAM_PORT, on one event loop: no cache, no pipeline, no TLS, no timeouts. A query's ID is replaced by
// a counter and the client's is put back in the answer. It measures what SwiftNIO itself costs per forwarded query.
import Glibc
import NIOCore
import NIOPosix

/// The state both channels share, used on their one event loop only.
final class Relay {
    var clients: [UInt16: (address: SocketAddress, id: UInt16)] = [:]
    var nextID: UInt16 = 0
    var frontend: Channel?
    var upstream: Channel?

    /// A client's query: remembered under a new ID and sent upstream.
    func forward(query: AddressedEnvelope<ByteBuffer>) {
        var message = query.data
        guard let clientID = message.getInteger(at: 0, as: UInt16.self) else { return }
        nextID &+= 1
        clients[nextID] = (query.remoteAddress, clientID)
        message.setInteger(nextID, at: 0)
        upstream?.writeAndFlush(message, promise: nil)
    }

    /// An upstream answer: matched by ID and sent back to its client.
    func answer(with reply: AddressedEnvelope<ByteBuffer>) {
        var message = reply.data
        guard let id = message.getInteger(at: 0, as: UInt16.self), let client = clients.removeValue(forKey: id)
        else { return }
        message.setInteger(client.id, at: 0)
        frontend?.writeAndFlush(AddressedEnvelope(remoteAddress: client.address, data: message), promise: nil)
    }
}

/// Hands each datagram of one side (clients or upstream) to the relay.
final class RelayHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    enum Side { case clients, upstream }
    let relay: NIOLoopBound<Relay>
    let side: Side

    init(relay: NIOLoopBound<Relay>, side: Side) {
        self.relay = relay
        self.side = side
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch side {
        case .clients: relay.value.forward(query: unwrapInboundIn(data))
        case .upstream: relay.value.answer(with: unwrapInboundIn(data))
        }
    }
}

let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
guard arguments.count == 2 else {
    print("usage: reference-forwarder LISTEN_PORT UPSTREAM_PORT")
    exit(2)
}
let loop = MultiThreadedEventLoopGroup(numberOfThreads: 1).next()
let relay = try loop.submit { NIOLoopBound(Relay(), eventLoop: loop) }.wait()
let upstream = try DatagramBootstrap(group: loop)
    .channelInitializer { channel in channel.eventLoop.makeCompletedFuture {
        try channel.pipeline.syncOperations.addHandler(RelayHandler(relay: relay, side: .upstream))
    } }
    .connect(host: "127.0.0.1", port: arguments[1]).wait()
let frontend = try DatagramBootstrap(group: loop)
    .channelInitializer { channel in channel.eventLoop.makeCompletedFuture {
        try channel.pipeline.syncOperations.addHandler(RelayHandler(relay: relay, side: .clients))
    } }
    .bind(host: "127.0.0.1", port: arguments[0]).wait()
try loop.submit {
    relay.value.upstream = upstream
    relay.value.frontend = frontend
}.wait()
try frontend.closeFuture.wait()
