import Atomics
public import NIOCore

/// The pipeline the frontends call, replaceable while queries flow: a reload builds a new pipeline and swaps it in
/// with one atomic store; each query runs on the pipeline it found when it arrived, so none in flight is dropped.
/// It also moves each query's deadline when the query timeout changed since the frontends stamped it.
public final class ReloadableHandler: DNSHandler {
    private final class Current: AtomicReference, Sendable {
        let handler: any DNSHandler
        /// The configured query timeout now, less the one the frontends stamp deadlines with.
        let deadlineShift: TimeAmount

        init(handler: any DNSHandler, deadlineShift: TimeAmount) {
            self.handler = handler
            self.deadlineShift = deadlineShift
        }
    }

    private let current: ManagedAtomic<Current>

    public init(_ handler: any DNSHandler) {
        self.current = ManagedAtomic(Current(handler: handler, deadlineShift: .zero))
    }

    /// Sends every query from now on to `handler`, with its deadline moved by `deadlineShift`.
    public func replace(with handler: any DNSHandler, deadlineShift: TimeAmount = .zero) {
        self.current.store(Current(handler: handler, deadlineShift: deadlineShift), ordering: .releasing)
    }

    public func handle(_ request: DNSRequest, eventLoop: any EventLoop) -> EventLoopFuture<DNSResponse> {
        let current = self.current.load(ordering: .acquiring)
        // The request is passed on as it came unless its deadline moves: a copy costs a memcpy of the whole request.
        guard current.deadlineShift != .zero else { return current.handler.handle(request, eventLoop: eventLoop) }
        return current.handler.handle(Self.shifted(request, by: current.deadlineShift), eventLoop: eventLoop)
    }

    public func begin(_ request: DNSRequest) -> DNSQueryStart {
        let current = self.current.load(ordering: .acquiring)
        guard current.deadlineShift != .zero else { return current.handler.begin(request) }
        return current.handler.begin(Self.shifted(request, by: current.deadlineShift))
    }

    private static func shifted(_ request: DNSRequest, by shift: TimeAmount) -> DNSRequest {
        DNSRequest(message: request.message, view: request.view, metadata: request.metadata,
                   deadline: request.deadline + shift) ?? request
    }
}
