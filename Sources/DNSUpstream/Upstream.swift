public import DNSWire
public import NIOCore

/// A query on its way to an upstream: the client's message (its ID is replaced on the wire) and the question the
/// answer must match.
public struct UpstreamQuery: Sendable {
    public var message: ByteBuffer
    public var question: DNSQuestion
    /// The answer must arrive before this.
    public var deadline: NIODeadline

    public init(message: ByteBuffer, question: DNSQuestion, deadline: NIODeadline) {
        self.message = message
        self.question = question
        self.deadline = deadline
    }
}

/// An upstream's answer: the message with the client's ID restored, and its index.
public struct UpstreamAnswer: Sendable {
    public var message: ByteBuffer
    /// Index of `message`: offsets and question are valid, but its header still carries the upstream-side ID.
    public var view: DNSMessageView
    /// The resolver that answered, as configured (`tls://…`).
    public var upstream: String
}

/// Somewhere queries can be sent: one resolver, or a policy over several.
public protocol Upstream: Sendable, CustomStringConvertible {
    /// Sends `query`; the future completes on `eventLoop`, with an ``UpstreamError`` on failure.
    func send(_ query: UpstreamQuery, on eventLoop: any EventLoop) -> EventLoopFuture<UpstreamAnswer>

    /// Closes the upstream's connections; queries still in flight fail.
    func shutdown() async

    /// The resolvers behind this upstream, in order, with their statistics.
    var resolvers: [ResolverUpstream] { get }
}
