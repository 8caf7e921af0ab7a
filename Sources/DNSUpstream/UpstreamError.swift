/// Why an upstream did not answer a query.
public struct UpstreamError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Base: Hashable, Sendable {
        case timeout
        case connectFailed(String)
        case tlsFailed(String)
        case connectionClosed
        case streamReset(String)
        case badReply(String)
        case busy
        case backingOff
        case shuttingDown
    }

    private let base: Base
    /// The upstream that failed, as configured.
    public let upstream: String

    private init(_ base: Base, _ upstream: String) {
        self.base = base
        self.upstream = upstream
    }

    /// No matching answer arrived before the query's deadline.
    public static func timeout(_ upstream: String) -> UpstreamError { .init(.timeout, upstream) }
    /// The connection (TCP connect or TLS handshake, including certificate verification) failed.
    public static func connectFailed(_ upstream: String, reason: String) -> UpstreamError {
        .init(.connectFailed(reason), upstream)
    }
    /// The TLS handshake or the certificate check failed.
    public static func tlsFailed(_ upstream: String, reason: String) -> UpstreamError {
        .init(.tlsFailed(reason), upstream)
    }
    /// The connection closed while the query was in flight.
    public static func connectionClosed(_ upstream: String) -> UpstreamError { .init(.connectionClosed, upstream) }
    /// The server reset the query's HTTP/2 stream (with `code`) before answering it.
    public static func streamReset(_ upstream: String, code: String) -> UpstreamError {
        .init(.streamReset(code), upstream)
    }
    /// The upstream replied with something that is not an answer to the query (an HTTP error status, the wrong
    /// content type, a message for another question).
    public static func badReply(_ upstream: String, reason: String) -> UpstreamError {
        .init(.badReply(reason), upstream)
    }
    /// The connection carries as many queries as it may.
    public static func busy(_ upstream: String) -> UpstreamError { .init(.busy, upstream) }
    /// The upstream failed recently and is not retried until its back-off ends.
    public static func backingOff(_ upstream: String) -> UpstreamError { .init(.backingOff, upstream) }
    /// dnsgate is stopping.
    public static func shuttingDown(_ upstream: String) -> UpstreamError { .init(.shuttingDown, upstream) }

    /// Whether the failure was a timeout rather than a network or connection error.
    public var isTimeout: Bool { self.base == .timeout }

    /// Whether the query was lost with its connection or stream, unanswered: asking again (on a new connection or
    /// stream) may well succeed.
    public var isLostInFlight: Bool {
        switch self.base {
        case .connectionClosed, .streamReset: return true
        default: return false
        }
    }

    /// How `error`, a failure of a query sent upstream, is counted.
    static func kind(of error: any Error) -> UpstreamStatistics.FailureKind {
        guard let error = error as? UpstreamError else { return .connection }
        switch error.base {
        case .timeout: return .timeout
        case .connectFailed, .connectionClosed, .backingOff: return .connection
        case .tlsFailed: return .tls
        case .streamReset: return .streamReset
        case .badReply: return .badReply
        case .busy, .shuttingDown: return .refused
        }
    }

    public var description: String {
        switch self.base {
        case .timeout: return "upstream \(self.upstream): no answer before the deadline"
        case .connectFailed(let reason): return "upstream \(self.upstream): connection failed: \(reason)"
        case .tlsFailed(let reason): return "upstream \(self.upstream): TLS failed: \(reason)"
        case .connectionClosed: return "upstream \(self.upstream): connection closed with the query in flight"
        case .streamReset(let code): return "upstream \(self.upstream): stream reset (\(code)) before the answer"
        case .badReply(let reason): return "upstream \(self.upstream): bad reply: \(reason)"
        case .busy: return "upstream \(self.upstream): too many queries in flight"
        case .backingOff: return "upstream \(self.upstream): waiting before reconnecting after a failure"
        case .shuttingDown: return "upstream \(self.upstream): shutting down"
        }
    }
}
