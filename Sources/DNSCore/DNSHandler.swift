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

    /// Whether this stage looks at the immediate answers of the stages after it (``review(_:for:)``).
    var reviewsAnswers: Bool { get }

    /// Looks at an answer that a later stage gave at once (a cache hit) and returns it or a replacement (a
    /// blocklist checking the names in a CNAME chain). Called only when ``reviewsAnswers`` is true; answers that
    /// come through ``handle(_:eventLoop:next:)`` are this stage's own business.
    func review(_ response: DNSResponse, for request: DNSRequest) -> DNSResponse
}

extension DNSMiddleware {
    public func immediateOutcome(for request: DNSRequest) -> DNSImmediateOutcome { .wait }

    public var reviewsAnswers: Bool { false }

    public func review(_ response: DNSResponse, for request: DNSRequest) -> DNSResponse { response }
}

/// The middleware chain in front of a terminal handler, itself a ``DNSHandler``.
public struct DNSPipeline: DNSHandler {
    private let head: any DNSHandler
    private let middlewares: [any DNSMiddleware]
    private let terminal: any DNSHandler
    /// The positions of the stages that review later stages' immediate answers.
    private let reviewers: [Int]

    /// Runs `middlewares` in order, then `terminal`.
    public init(middlewares: [any DNSMiddleware], terminal: any DNSHandler) {
        var next = terminal
        for middleware in middlewares.reversed() {
            next = Link(middleware: middleware, next: next)
        }
        self.head = next
        self.middlewares = middlewares
        self.terminal = terminal
        self.reviewers = middlewares.indices.filter { middlewares[$0].reviewsAnswers }
    }

    public func handle(_ request: DNSRequest, eventLoop: any EventLoop) -> EventLoopFuture<DNSResponse> {
        self.head.handle(request, eventLoop: eventLoop)
    }

    /// Asks the stages in order, then the terminal handler (which may be a pipeline itself); the first answer
    /// wins, reviewed by the stages before the one that gave it, and the first stage that must wait ends the
    /// attempt.
    public func immediateAnswer(to request: DNSRequest) -> DNSResponse? {
        for (index, middleware) in self.middlewares.enumerated() {
            switch middleware.immediateOutcome(for: request) {
            case .answer(let response): return self.reviewed(response, for: request, before: index)
            case .pass: continue
            case .wait: return nil
            }
        }
        return self.terminal.immediateAnswer(to: request).map {
            self.reviewed($0, for: request, before: self.middlewares.count)
        }
    }

    private func reviewed(_ response: DNSResponse, for request: DNSRequest, before stage: Int) -> DNSResponse {
        var response = response
        for index in self.reviewers.reversed() where index < stage {
            response = self.middlewares[index].review(response, for: request)
        }
        return response
    }

    private struct Link: DNSHandler {
        let middleware: any DNSMiddleware
        let next: any DNSHandler

        func handle(_ request: DNSRequest, eventLoop: any EventLoop) -> EventLoopFuture<DNSResponse> {
            self.middleware.handle(request, eventLoop: eventLoop, next: self.next)
        }
    }
}

/// A stage that always decides at once (access control, rate limits, local answers): it answers a request itself,
/// or passes it on, without waiting for anything.
public protocol DNSDecidingMiddleware: DNSMiddleware {
    /// This stage's answer to `request`, or nil to pass it on.
    func decision(for request: DNSRequest) -> DNSResponse?
}

extension DNSDecidingMiddleware {
    public func immediateOutcome(for request: DNSRequest) -> DNSImmediateOutcome {
        self.decision(for: request).map(DNSImmediateOutcome.answer) ?? .pass
    }

    public func handle(_ request: DNSRequest, eventLoop: any EventLoop, next: any DNSHandler)
        -> EventLoopFuture<DNSResponse>
    {
        guard let answer = self.decision(for: request) else { return next.handle(request, eventLoop: eventLoop) }
        return eventLoop.makeSucceededFuture(answer)
    }
}
