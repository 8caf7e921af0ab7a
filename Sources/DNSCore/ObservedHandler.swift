public import NIOCore

/// Something that wants to know about every answered query (metrics, the query log). Called on the query's path,
/// so it must be quick and must not block.
public protocol QueryObserver: Sendable {
    /// `response` answered `request`, which arrived at `start`.
    func record(_ request: DNSRequest, _ response: DNSResponse, since start: NIODeadline)
}

/// The pipeline with every answer shown to observers: what the frontends and the TUN responder call when metrics
/// or the query log are on.
public struct ObservedHandler: DNSHandler {
    private let pipeline: any DNSHandler
    private let observers: [any QueryObserver]

    public init(_ pipeline: any DNSHandler, observers: [any QueryObserver]) {
        self.pipeline = pipeline
        self.observers = observers
    }

    public func handle(_ request: DNSRequest, eventLoop: any EventLoop) -> EventLoopFuture<DNSResponse> {
        let start = NIODeadline.now()
        let observers = self.observers
        return self.pipeline.handle(request, eventLoop: eventLoop).map { response in
            for observer in observers { observer.record(request, response, since: start) }
            return response
        }
    }

    public func begin(_ request: DNSRequest) -> DNSQueryStart {
        let start = NIODeadline.now()
        let observers = self.observers
        switch self.pipeline.begin(request) {
        case .answered(let response):
            for observer in observers { observer.record(request, response, since: start) }
            return .answered(response)
        case .pending(let pending):
            return .pending(pending.mapAnswer { response in
                for observer in observers { observer.record(request, response, since: start) }
                return response
            })
        }
    }
}
