import Atomics
import DNSCore
import NIOConcurrencyHelpers
import NIOCore

/// Sits on a listening socket and tracks accepted connections: beyond `limit` open at once, or `perClientLimit` from
/// one client address, a new connection is closed straight away. The per-client counts hold only clients with a
/// connection open, so they are bounded by `limit`. Also lets shutdown reach every open connection.
final class ConnectionLimiter: ChannelInboundHandler, Sendable {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel

    private let limit: Int
    private let perClientLimit: Int
    private let open = ManagedAtomic<Int>(0)
    private let perClient = NIOLockedValueBox<[IPAddress: Int]>([:])
    private let registry = ChannelRegistry()

    init(limit: Int, perClientLimit: Int) {
        self.limit = limit
        self.perClientLimit = perClientLimit
    }

    /// Connections open now.
    var openConnections: Int { self.open.load(ordering: .relaxed) }

    /// The connections open now.
    var channels: [any Channel] { self.registry.all }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let child = self.unwrapInboundIn(data)
        let client = child.remoteAddress.flatMap(IPAddress.init)
        guard self.open.loadThenWrappingIncrement(ordering: .relaxed) < self.limit else {
            self.open.wrappingDecrement(ordering: .relaxed)
            return self.refuse(child, data: data, context: context)
        }
        if let client {
            let admitted = self.perClient.withLockedValue { counts in
                guard counts[client, default: 0] < self.perClientLimit else { return false }
                counts[client, default: 0] += 1
                return true
            }
            guard admitted else {
                self.open.wrappingDecrement(ordering: .relaxed)
                return self.refuse(child, data: data, context: context)
            }
        }
        let id = self.registry.add(child)
        child.closeFuture.whenComplete { _ in
            self.open.wrappingDecrement(ordering: .relaxed)
            self.registry.remove(id)
            guard let client else { return }
            self.perClient.withLockedValue { counts in
                let left = counts[client, default: 1] - 1
                counts[client] = left > 0 ? left : nil
            }
        }
        context.fireChannelRead(data)
    }

    private func refuse(_ child: any Channel, data: NIOAny, context: ChannelHandlerContext) {
        // Let the accept handler register the channel first, so that closing it really closes the socket.
        context.fireChannelRead(data)
        child.close(promise: nil)
    }
}
