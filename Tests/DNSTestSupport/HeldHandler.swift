public import DNSCore
public import NIOCore

/// The rest of a pipeline as a test drives it: holds every request until the test answers it, in whatever order it
/// chooses. For one EmbeddedEventLoop thread only.
public final class HeldHandler: DNSHandler, @unchecked Sendable {
    /// Requests not answered yet, oldest first.
    public private(set) var held: [(request: DNSRequest, promise: EventLoopPromise<DNSResponse>)] = []

    public init() {}

    public func handle(_ request: DNSRequest, eventLoop: any EventLoop) -> EventLoopFuture<DNSResponse> {
        let promise = eventLoop.makePromise(of: DNSResponse.self)
        self.held.append((request, promise))
        return promise.futureResult
    }

    /// Removes the first held request that `matches` and completes it with what `respond` makes of it.
    public func complete(where matches: (DNSRequest) -> Bool = { _ in true },
                         with respond: (DNSRequest) -> DNSResponse) {
        guard let index = self.held.firstIndex(where: { matches($0.request) }) else { return }
        let (request, promise) = self.held.remove(at: index)
        promise.succeed(respond(request))
    }
}
