public import DNSCore
import DNSWire
public import Logging
public import NIOCore

/// The end of the pipeline: sends the query upstream and hands back the answer with the client's ID and question
/// spelling, or SERVFAIL with an Extended DNS Error (RFC 8914) saying why when no upstream answered in time.
public struct ForwardingHandler: DNSHandler {
    public let upstream: any Upstream
    private let logger: Logger

    public init(upstream: any Upstream, logger: Logger) {
        self.upstream = upstream
        self.logger = logger
    }

    public func handle(_ request: DNSRequest, eventLoop: any EventLoop) -> EventLoopFuture<DNSResponse> {
        let query = UpstreamQuery(message: request.message, question: request.question, deadline: request.deadline)
        let logger = self.logger
        let promise = eventLoop.makePromise(of: DNSResponse.self)
        self.upstream.send(query, on: eventLoop).whenComplete { result in
            switch result {
            case .success(let answer):
                var message = answer.message
                message.restoreDNSQuestionSpelling(request.question.name, view: answer.view)
                promise.succeed(DNSResponse(message: message, origin: .upstream, view: answer.view,
                                            upstream: answer.upstream))
            case .failure(let error):
                let timedOut = (error as? UpstreamError)?.isTimeout ?? false
                logger.debug("upstream failed", metadata: ["question": "\(request.question)", "error": "\(error)"])
                promise.succeed(.error(.servFail, for: request,
                                       extendedError: timedOut ? .noReachableAuthority : .networkError))
            }
        }
        return promise.futureResult
    }
}
