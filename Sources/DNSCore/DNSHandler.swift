public import NIOCore

/// Anything that answers a ``DNSRequest``: a pipeline stage's view of the rest of the pipeline.
///
/// Implementations must complete the future on `eventLoop` and before `request.deadline`, with a response even on
/// failure (a SERVFAIL is an answer); failing the future is reserved for bugs and shutdown.
public protocol DNSHandler: Sendable {
    func handle(_ request: DNSRequest, eventLoop: any EventLoop) -> EventLoopFuture<DNSResponse>

    /// The answer, if it can be given at once without waiting for anything (a fresh cache hit): frontends try this
    /// first and skip the future, promise and callbacks. Returns nil when `handle` is needed.
    func immediateAnswer(to request: DNSRequest) -> DNSResponse?
}

extension DNSHandler {
    public func immediateAnswer(to request: DNSRequest) -> DNSResponse? { nil }
}

/// What a middleware can say about a request without waiting.
public enum DNSImmediateOutcome: Sendable {
    /// This is the answer.
    case answer(DNSResponse)
    /// This stage has nothing to add; ask the next one.
    case pass
    /// This stage must run asynchronously (a miss, a lookup elsewhere): use `handle`.
    case wait
}

/// One stage of the query pipeline (access control, rate limit, local records, cache, ...): it answers a request
/// itself or passes it on to `next`.
public protocol DNSMiddleware: Sendable {
    func handle(_ request: DNSRequest, eventLoop: any EventLoop, next: any DNSHandler) -> EventLoopFuture<DNSResponse>

    /// What this stage can decide at once; the default is `.wait`.
    func immediateOutcome(for request: DNSRequest) -> DNSImmediateOutcome
}

extension DNSMiddleware {
    public func immediateOutcome(for request: DNSRequest) -> DNSImmediateOutcome { .wait }
}

/// The middleware chain in front of a terminal handler, itself a ``DNSHandler``.
public struct DNSPipeline: DNSHandler {
    private let head: any DNSHandler
    private let middlewares: [any DNSMiddleware]
    private let terminal: any DNSHandler

    /// Runs `middlewares` in order, then `terminal`.
    public init(middlewares: [any DNSMiddleware], terminal: any DNSHandler) {
        var next = terminal
        for middleware in middlewares.reversed() {
            next = Link(middleware: middleware, next: next)
        }
        self.head = next
        self.middlewares = middlewares
        self.terminal = terminal
    }

    public func handle(_ request: DNSRequest, eventLoop: any EventLoop) -> EventLoopFuture<DNSResponse> {
        self.head.handle(request, eventLoop: eventLoop)
    }

    /// Asks the stages in order, then the terminal handler (which may be a pipeline itself); the first answer
    /// wins, and the first stage that must wait ends the attempt.
    public func immediateAnswer(to request: DNSRequest) -> DNSResponse? {
        for middleware in self.middlewares {
            switch middleware.immediateOutcome(for: request) {
            case .answer(let response): return response
            case .pass: continue
            case .wait: return nil
            }
        }
        return self.terminal.immediateAnswer(to: request)
    }

    private struct Link: DNSHandler {
        let middleware: any DNSMiddleware
        let next: any DNSHandler

        func handle(_ request: DNSRequest, eventLoop: any EventLoop) -> EventLoopFuture<DNSResponse> {
            self.middleware.handle(request, eventLoop: eventLoop, next: self.next)
        }
    }
}
