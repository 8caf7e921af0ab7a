import Atomics
import NIOCore

/// Sits on a listening socket and tracks accepted connections: beyond `limit` open at once, a new connection is
/// closed straight away. Also lets shutdown reach every open connection.
final class ConnectionLimiter: ChannelInboundHandler, Sendable {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel

    private let limit: Int
    private let open = ManagedAtomic<Int>(0)
    private let registry = ChannelRegistry()

    init(limit: Int) {
        self.limit = limit
    }

    /// Connections open now.
    var openConnections: Int { self.open.load(ordering: .relaxed) }

    /// The connections open now.
    var channels: [any Channel] { self.registry.all }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let child = self.unwrapInboundIn(data)
        guard self.open.loadThenWrappingIncrement(ordering: .relaxed) < self.limit else {
            self.open.wrappingDecrement(ordering: .relaxed)
            // Let the accept handler register the channel first, so that closing it really closes the socket.
            context.fireChannelRead(data)
            child.close(promise: nil)
            return
        }
        let id = self.registry.add(child)
        child.closeFuture.whenComplete { _ in
            self.open.wrappingDecrement(ordering: .relaxed)
            self.registry.remove(id)
        }
        context.fireChannelRead(data)
    }
}
