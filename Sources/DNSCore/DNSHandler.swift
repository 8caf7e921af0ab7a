public import NIOCore

/// Anything that answers a ``DNSRequest``: a pipeline stage's view of the rest of the pipeline.
///
/// Implementations must complete the future on `eventLoop` and before `request.deadline`, with a response even on
/// failure (a SERVFAIL is an answer); failing the future is reserved for bugs and shutdown.
public protocol DNSHandler: Sendable {
    func handle(_ request: DNSRequest, eventLoop: any EventLoop) -> EventLoopFuture<DNSResponse>

    /// Does at once what needs no waiting (decisions, a fresh cache hit): the answer, or the query with those steps
    /// behind it, to be finished with ``DNSPendingQuery/finish(on:)`` (on any thread's event loop). Frontends call
    /// this instead of `handle`, so that each stage sees a query once whichever way it is answered: a rate limit
    /// charges it one token, not one per attempt.
    func begin(_ request: DNSRequest) -> DNSQueryStart
}

extension DNSHandler {
    public func begin(_ request: DNSRequest) -> DNSQueryStart {
        .pending(DNSPendingQuery(request: request, remainder: self))
    }
}

/// What a middleware can say about a request without waiting.
public enum DNSImmediateOutcome: Sendable {
    /// This is the answer.
    case answer(DNSResponse)
    /// This stage has nothing to add; ask the next one. The stage is done with the query: should a later stage
    /// need to wait, the query goes on from there and this stage sees only its answer, through
    /// ``DNSMiddleware/review(_:for:)`` when it ``DNSMiddleware/reviewsAnswers``.
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

    /// Looks at an answer that a later stage gave (a cache hit, or an upstream answer to a query this stage passed in
    /// ``immediateOutcome(for:)``) and returns it or a replacement (a blocklist checking the names in a CNAME chain).
    /// Called only when ``reviewsAnswers`` is true; answers that come through ``handle(_:eventLoop:next:)`` are this
    /// stage's own business.
    func review(_ response: DNSResponse, for request: DNSRequest) -> DNSResponse
}

extension DNSMiddleware {
    public func immediateOutcome(for request: DNSRequest) -> DNSImmediateOutcome { .wait }

    public var reviewsAnswers: Bool { false }

    public func review(_ response: DNSResponse, for request: DNSRequest) -> DNSResponse { response }
}

/// The middleware chain in front of a terminal handler, itself a ``DNSHandler``.
public struct DNSPipeline: DNSHandler {
    /// `chains[i]` runs the stages from `i` on, then the terminal handler; the last is the terminal handler itself.
    private let chains: [any DNSHandler]
    private let middlewares: [any DNSMiddleware]
    /// The positions of the stages that review later stages' answers.
    private let reviewers: [Int]

    /// Runs `middlewares` in order, then `terminal`.
    public init(middlewares: [any DNSMiddleware], terminal: any DNSHandler) {
        var chains: [any DNSHandler] = [terminal]
        for middleware in middlewares.reversed() {
            chains.append(Link(middleware: middleware, next: chains[chains.count - 1]))
        }
        self.chains = chains.reversed()
        self.middlewares = middlewares
        self.reviewers = middlewares.indices.filter { middlewares[$0].reviewsAnswers }
    }

    public func handle(_ request: DNSRequest, eventLoop: any EventLoop) -> EventLoopFuture<DNSResponse> {
        self.chains[0].handle(request, eventLoop: eventLoop)
    }

    /// Asks the stages in order, then the terminal handler (which may be a pipeline itself); the first answer
    /// wins, reviewed by the stages before the one that gave it. The first stage that must wait ends the attempt:
    /// the query goes on from that stage, and its answer is reviewed by the stages before it.
    public func begin(_ request: DNSRequest) -> DNSQueryStart {
        for (index, middleware) in self.middlewares.enumerated() {
            switch middleware.immediateOutcome(for: request) {
            case .answer(let response):
                return .answered(self.reviewed(response, for: request, before: index))
            case .pass:
                continue
            case .wait:
                return .pending(self.reviewing(DNSPendingQuery(request: request, remainder: self.chains[index]),
                                               before: index))
            }
        }
        let stage = self.middlewares.count
        switch self.chains[stage].begin(request) {
        case .answered(let response):
            return .answered(self.reviewed(response, for: request, before: stage))
        case .pending(let pending):
            return .pending(self.reviewing(pending, before: stage))
        }
    }

    private func reviewed(_ response: DNSResponse, for request: DNSRequest, before stage: Int) -> DNSResponse {
        var response = response
        for index in self.reviewers.reversed() where index < stage {
            response = self.middlewares[index].review(response, for: request)
        }
        return response
    }

    /// `pending`, with its answer reviewed by the stages before `stage` (unchanged when none reviews).
    private func reviewing(_ pending: DNSPendingQuery, before stage: Int) -> DNSPendingQuery {
        guard let first = self.reviewers.first, first < stage else { return pending }
        let request = pending.request
        return pending.mapAnswer { [self] in self.reviewed($0, for: request, before: stage) }
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
    // Inlinable, so that each stage's witness is specialized: the generic version copied the 145-byte outcome four
    // times per stage and query (memcpy was 3 % of a DoH cache hit's CPU, perf).
    @inlinable
    public func immediateOutcome(for request: DNSRequest) -> DNSImmediateOutcome {
        guard let answer = self.decision(for: request) else { return .pass }
        return .answer(answer)
    }

    public func handle(_ request: DNSRequest, eventLoop: any EventLoop, next: any DNSHandler)
        -> EventLoopFuture<DNSResponse>
    {
        guard let answer = self.decision(for: request) else { return next.handle(request, eventLoop: eventLoop) }
        return eventLoop.makeSucceededFuture(answer)
    }
}
