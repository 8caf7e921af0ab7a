public import DNSWire
public import NIOCore
public import DNSCore

extension ResolverUpstream {
    /// Sends `name type` (`. NS` by default) straight to this upstream, as a health probe; its outcome counts in the
    /// statistics and the health like any query's.
    public func probe(_ name: DNSName = .root, type: DNSType = .ns, deadline: NIODeadline,
                      on eventLoop: any EventLoop) -> EventLoopFuture<UpstreamAnswer> {
        let message = DNSMessage.query(name, type, id: UInt16.random(in: 0...UInt16.max)).encoded()
        return self.send(UpstreamQuery(message: message, question: DNSQuestion(name: name, type: type),
                                       deadline: deadline), on: eventLoop)
    }
}

/// Active health checks: every interval, a probe query to each upstream, so that one that went down is noticed
/// before clients pay for it and one that recovered gets traffic again without a client's query as the test.
final class UpstreamHealthChecker: Sendable {
    private let task: RepeatedTask

    /// Starts probing `upstreams` on `eventLoop`; each probe may take `timeout`.
    init(upstreams: [ResolverUpstream], check: HealthCheck, timeout: TimeAmount, eventLoop: any EventLoop) {
        self.task = eventLoop.scheduleRepeatedTask(initialDelay: check.interval, delay: check.interval) { _ in
            for upstream in upstreams {
                _ = upstream.probe(check.name, type: check.type, deadline: .now() + timeout, on: eventLoop)
            }
        }
    }

    /// Stops probing.
    func stop() {
        self.task.cancel()
    }
}
