public import DNSCore
public import NIOCore
import DNSWire

/// Blocks queries for names the client's group blocks, and answers whose CNAME chain leads to one (so a blocked
/// name cannot hide behind an allowed alias), with ``BlockingPolicy/blockedAnswer(to:)``. It sits before the cache,
/// which is shared by every group: each answer, fresh or cached, is checked against the asking client's rules.
public struct BlockingMiddleware: DNSMiddleware {
    public let policy: BlockingPolicy

    public init(policy: BlockingPolicy) {
        self.policy = policy
    }

    public func immediateOutcome(for request: DNSRequest) -> DNSImmediateOutcome {
        guard let group = self.group(for: request) else { return .pass }
        return self.policy.groups[group].rules.verdict(for: request.question.name) == .blocked
            ? .answer(self.policy.blockedAnswer(to: request)) : .pass
    }

    public var reviewsAnswers: Bool { true }

    public func review(_ response: DNSResponse, for request: DNSRequest) -> DNSResponse {
        guard Self.mayHideAlias(response), let group = self.group(for: request),
            self.policy.groups[group].rules.verdict(for: request.question.name) != .allowed
        else { return response }
        return self.checked(response, for: request, rules: self.policy.groups[group].rules)
    }

    public func handle(_ request: DNSRequest, eventLoop: any EventLoop, next: any DNSHandler)
        -> EventLoopFuture<DNSResponse>
    {
        guard let group = self.group(for: request) else { return next.handle(request, eventLoop: eventLoop) }
        let rules = self.policy.groups[group].rules
        switch rules.verdict(for: request.question.name) {
        case .blocked:
            return eventLoop.makeSucceededFuture(self.policy.blockedAnswer(to: request))
        case .allowed:
            return next.handle(request, eventLoop: eventLoop)
        case .unlisted:
            return next.handle(request, eventLoop: eventLoop).map { response in
                Self.mayHideAlias(response) ? self.checked(response, for: request, rules: rules) : response
            }
        }
    }

    private func group(for request: DNSRequest) -> Int? {
        self.policy.group(for: request.metadata.client.flatMap(IPAddress.init))
    }

    /// Whether `response` has a CNAME chain worth reading: more than one answer record. A lone record is the answer
    /// itself, or an alias that leads nowhere.
    private static func mayHideAlias(_ response: DNSResponse) -> Bool {
        guard response.origin != .blocked,
            let answers = response.message.getInteger(at: response.message.readerIndex + 6, as: UInt16.self)
        else { return false }
        return answers > 1
    }

    /// `response`, or the blocked answer when a CNAME in its answer section points at a blocked name.
    private func checked(_ response: DNSResponse, for request: DNSRequest, rules: DomainRules) -> DNSResponse {
        guard let view = response.view ?? (try? DNSMessageView(response.message)) else { return response }
        for record in view.records where record.section == .answer && record.type == .cname {
            guard let target = response.message.dnsName(at: record.rdataOffset) else { continue }
            if rules.verdict(for: target) == .blocked { return self.policy.blockedAnswer(to: request) }
        }
        return response
    }
}
