public import NIOCore

/// How a query stands after ``DNSHandler/begin(_:)``.
public enum DNSQueryStart: Sendable {
    /// Answered at once.
    case answered(DNSResponse)
    /// Needs the asynchronous path.
    case pending(DNSPendingQuery)

    /// The answer, when there is one already.
    public var answer: DNSResponse? {
        guard case .answered(let response) = self else { return nil }
        return response
    }
}

/// A query that the immediate steps did not answer: the request and what is left of the pipeline for it.
public struct DNSPendingQuery: Sendable {
    public let request: DNSRequest
    private let remainder: any DNSHandler

    /// `remainder` answers `request` without repeating the steps that ``DNSHandler/begin(_:)`` already took.
    public init(request: DNSRequest, remainder: any DNSHandler) {
        self.request = request
        self.remainder = remainder
    }

    /// Runs the rest of the pipeline on `eventLoop`.
    public func finish(on eventLoop: any EventLoop) -> EventLoopFuture<DNSResponse> {
        self.remainder.handle(self.request, eventLoop: eventLoop)
    }

    /// The same query with its answer passed through `transform` (an observer, a reviewing stage).
    func mapAnswer(_ transform: @escaping @Sendable (DNSResponse) -> DNSResponse) -> DNSPendingQuery {
        DNSPendingQuery(request: self.request, remainder: Mapped(inner: self.remainder, transform: transform))
    }

    private struct Mapped: DNSHandler {
        let inner: any DNSHandler
        let transform: @Sendable (DNSResponse) -> DNSResponse

        func handle(_ request: DNSRequest, eventLoop: any EventLoop) -> EventLoopFuture<DNSResponse> {
            self.inner.handle(request, eventLoop: eventLoop).map(self.transform)
        }
    }
}
