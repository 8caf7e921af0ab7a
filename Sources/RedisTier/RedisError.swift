/// Why a Redis command got no usable reply. The cache treats every one of them as a miss.
public struct RedisError: Error, Hashable, CustomStringConvertible {
    private enum Base: Hashable {
        case notConnected
        case connectionClosed
        case busy
        case shuttingDown
        case replyError(String)
    }

    private let base: Base

    /// The connection is down and backing off before the next attempt.
    public static let notConnected = RedisError(base: .notConnected)
    /// The connection closed before the reply came.
    public static let connectionClosed = RedisError(base: .connectionClosed)
    /// Too many commands are waiting already.
    public static let busy = RedisError(base: .busy)
    public static let shuttingDown = RedisError(base: .shuttingDown)

    /// Redis answered with an error reply.
    public static func replyError(_ message: String) -> RedisError { RedisError(base: .replyError(message)) }

    public var description: String {
        switch self.base {
        case .notConnected: "not connected to Redis (backing off before reconnecting)"
        case .connectionClosed: "the Redis connection closed"
        case .busy: "too many Redis commands waiting"
        case .shuttingDown: "shutting down"
        case .replyError(let message): "Redis replied with an error: \(message)"
        }
    }
}
