public import NIOCore

/// Flushes a channel once at the end of the current event loop tick, however many writes the tick made, so that a
/// burst of answers leaves in one system call (`writev`, `sendmmsg`). Owned by one handler, used on its loop only.
public final class TickFlusher {
    private var scheduled = false
    private var context: ChannelHandlerContext?
    private let flush: (ChannelHandlerContext) -> Void

    /// A flusher that calls `flush` at the end of a tick (by default, the channel's flush; an HTTP/2 handler writes
    /// its session's output first).
    public init(flush: @escaping (ChannelHandlerContext) -> Void = { $0.flush() }) {
        self.flush = flush
    }

    /// Starts flushing through `context` (call from `handlerAdded`).
    public func attach(_ context: ChannelHandlerContext) {
        self.context = context
    }

    /// Stops flushing (call from `handlerRemoved`).
    public func detach() {
        self.context = nil
    }

    /// Arranges a flush at the end of this tick.
    public func flushSoon() {
        guard !self.scheduled, let context = self.context else { return }
        self.scheduled = true
        context.eventLoop.assumeIsolated().execute {
            self.scheduled = false
            if let context = self.context { self.flush(context) }
        }
    }
}
