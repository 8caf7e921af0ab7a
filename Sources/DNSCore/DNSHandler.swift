public import NIOCore

/// Anything that answers a ``DNSRequest``: a pipeline stage's view of the rest of the pipeline.
///
/// Implementations must complete the future on `eventLoop` and before `request.deadline`, with a response even on
/// failure (a SERVFAIL is an answer); failing the future is reserved for bugs and shutdown.
public protocol DNSHandler: Sendable {
    func handle(_ request: DNSRequest, eventLoop: any EventLoop) -> EventLoopFuture<DNSResponse>
}

/// One stage of the query pipeline (access control, rate limit, local records, cache, ...): it answers a request
/// itself or passes it on to `next`.
public protocol DNSMiddleware: Sendable {
    func handle(_ request: DNSRequest, eventLoop: any EventLoop, next: any DNSHandler) -> EventLoopFuture<DNSResponse>
}

/// The middleware chain in front of a terminal handler, itself a ``DNSHandler``.
public struct DNSPipeline: DNSHandler {
    private let head: any DNSHandler

    /// Runs `middlewares` in order, then `terminal`.
    public init(middlewares: [any DNSMiddleware], terminal: any DNSHandler) {
        var next = terminal
        for middleware in middlewares.reversed() {
            next = Link(middleware: middleware, next: next)
        }
        self.head = next
    }

    public func handle(_ request: DNSRequest, eventLoop: any EventLoop) -> EventLoopFuture<DNSResponse> {
        self.head.handle(request, eventLoop: eventLoop)
    }

    private struct Link: DNSHandler {
        let middleware: any DNSMiddleware
        let next: any DNSHandler

        func handle(_ request: DNSRequest, eventLoop: any EventLoop) -> EventLoopFuture<DNSResponse> {
            self.middleware.handle(request, eventLoop: eventLoop, next: self.next)
        }
    }
}
