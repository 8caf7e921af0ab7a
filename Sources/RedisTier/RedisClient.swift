public import Logging
public import NIOCore
public import DNSCore

/// A small Redis client for dnsgate's shared cache tier: one pipelined connection per event loop, so that commands
/// never leave the loop they are sent from. It reconnects on its own; while Redis is unreachable commands fail at
/// once rather than wait.
public final class RedisClient: Sendable {
    public let url: RedisURL
    private let slots: [ObjectIdentifier: NIOLoopBoundBox<RedisConnectionSlot>]

    /// Connects every loop of `group` to `url` in the background.
    /// - Parameter maxPending: commands allowed in flight per connection; more fail with ``RedisError/busy``.
    public init(url: RedisURL, group: any EventLoopGroup, connectTimeout: TimeAmount = .seconds(1),
                maxPending: Int = 1024, logger: Logger) {
        self.url = url
        var slots: [ObjectIdentifier: NIOLoopBoundBox<RedisConnectionSlot>] = [:]
        for loop in group.makeIterator() {
            let slot = NIOLoopBoundBox.makeBoxSendingValue(
                RedisConnectionSlot(eventLoop: loop, url: url, connectTimeout: connectTimeout, maxPending: maxPending,
                                    logger: logger),
                as: RedisConnectionSlot.self, eventLoop: loop)
            loop.execute { slot.value.start() }
            slots[ObjectIdentifier(loop)] = slot
        }
        self.slots = slots
    }

    /// Sends one command (`arguments` as bulk strings) on `eventLoop`'s connection.
    public func send(_ arguments: [ByteBuffer], on eventLoop: any EventLoop) -> EventLoopFuture<RESPValue> {
        guard let slot = self.slots[ObjectIdentifier(eventLoop)] else {
            return eventLoop.makeFailedFuture(RedisError.notConnected)
        }
        var encoded = ByteBuffer()
        encoded.reserveCapacity(arguments.reduce(16) { $0 + $1.readableBytes + 16 })
        encoded.writeRESPCommand(arguments)
        let bytes = encoded
        let promise = eventLoop.makePromise(of: RESPValue.self)
        if eventLoop.inEventLoop {
            slot.value.send(bytes, promise: promise)
        } else {
            eventLoop.execute { slot.value.send(bytes, promise: promise) }
        }
        return promise.futureResult
    }

    /// Closes every connection; commands still waiting fail.
    public func shutdown() async {
        for slot in self.slots.values {
            try? await slot.eventLoop.submit { slot.value.shutdown() }.get()
        }
    }
}
