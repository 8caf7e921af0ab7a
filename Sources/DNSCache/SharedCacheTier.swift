public import NIOCore

/// A cache shared by several dnsgate instances (Redis, for one), consulted on a local miss before the upstreams.
/// Keys and values are opaque bytes; ``SharedAnswers`` decides what they hold. Implementations must never throw
/// their failures at the query: a failure is a miss.
public protocol SharedCacheTier: Sendable {
    /// The value stored under `key`, or nil when there is none or it could not be read.
    func value(for key: ByteBuffer, eventLoop: any EventLoop) -> EventLoopFuture<ByteBuffer?>

    /// Stores `value` under `key` for `lifetime`, without making anyone wait for it.
    func store(_ value: ByteBuffer, for key: ByteBuffer, lifetime: TimeAmount, eventLoop: any EventLoop)
}
