public import DNSCache
public import NIOCore

/// Redis as dnsgate's shared cache tier: GET on a local miss, SET with PX (the answer's remaining lifetime) for
/// every answer stored. Error replies, wrong reply types and failed connections read as misses.
public struct RedisCacheTier: SharedCacheTier {
    public let client: RedisClient

    public init(client: RedisClient) {
        self.client = client
    }

    public func value(for key: ByteBuffer, eventLoop: any EventLoop) -> EventLoopFuture<ByteBuffer?> {
        self.client.send([Self.get, key], on: eventLoop).map { reply in
            if case .bulkString(let value) = reply { return value }
            return nil
        }
    }

    public func store(_ value: ByteBuffer, for key: ByteBuffer, lifetime: TimeAmount, eventLoop: any EventLoop) {
        let milliseconds = max(1, lifetime.nanoseconds / 1_000_000)
        _ = self.client.send([Self.set, key, value, Self.px, ByteBuffer(string: String(milliseconds))], on: eventLoop)
    }

    private static let get = ByteBuffer(string: "GET")
    private static let set = ByteBuffer(string: "SET")
    private static let px = ByteBuffer(string: "PX")
}
