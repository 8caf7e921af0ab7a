public import DNSCore
public import DNSWire
public import Logging
public import NIOCore
import Synchronization

/// How validation is set up: where trust starts, what is exempt, how long a bogus verdict is kept.
public struct ValidatorSettings: Sendable {
    /// Where chains of trust start.
    public var anchors: TrustAnchors
    /// Zones not validated: negative trust anchors (RFC 7646) and private zones that must not turn bogus.
    public var exemptions: [DNSName]
    /// How long a bogus verdict is kept before the answer is fetched and validated again.
    public var bogusTTL: TimeAmount
    /// How far outside their validity window signatures are still accepted.
    public var clockSkew: UInt32
    /// NSEC3 records iterated more often prove nothing securely (RFC 9276 §3.2).
    public var nsec3IterationLimit: UInt16

    /// The defaults: the root's anchors, nothing exempt, bogus verdicts kept 60 s, 300 s of clock skew, RFC 9276's
    /// NSEC3 limit of 150 iterations.
    public init(anchors: TrustAnchors = .root, exemptions: [DNSName] = [], bogusTTL: TimeAmount = .seconds(60),
                clockSkew: UInt32 = 300, nsec3IterationLimit: UInt16 = 150) {
        self.anchors = anchors
        self.exemptions = exemptions
        self.bogusTTL = bogusTTL
        self.clockSkew = clockSkew
        self.nsec3IterationLimit = nsec3IterationLimit
    }
}

/// The validating stage (RFC 4033 §7, RFC 4035 §4.9): sits between the cache and the upstreams, asks upstreams
/// with DO and CD set, validates what comes back against the chain of trust (fetching DS and DNSKEY sets through
/// `fetch`, the cache and upstreams without this stage) and answers secure data with AD, insecure data without,
/// and bogus data with SERVFAIL and the Extended DNS Error that says why, kept for `bogusTTL`. Queries with CD set
/// go through unvalidated and come back without AD; the cache keeps them apart from validated answers.
public final class DNSSECValidationMiddleware: DNSMiddleware {
    /// What this stage found, shared with the stages that replace it on reload.
    public let statistics: ValidationStatistics
    private let settings: ValidatorSettings
    private let chain: TrustChain
    private let fetch: any DNSHandler
    private let clock: @Sendable () -> Int64
    private let onUnsignedUpstream: @Sendable (String) -> Void
    private let logger: Logger
    /// Upstreams already reported for failing DNSSEC, so that the log says it once per upstream.
    private let reportedUpstreams = Mutex<Set<String>>([])
    private let bogusAnswers = Mutex<[BogusKey: (reason: BogusReason, expires: NIODeadline)]>([:])

    private struct BogusKey: Hashable {
        let name: DNSName
        let type: DNSType
    }

    /// - Parameters:
    ///   - fetch: answers the DS and DNSKEY queries the chain needs (the cache and upstreams, without this stage).
    ///   - clock: seconds since 1970, for signature windows.
    ///   - onUnsignedUpstream: told the name of an upstream that answered a DO query without the DO bit or sent a
    ///     DNSKEY set without signatures (to mark it in the upstreams' health view).
    public init(settings: ValidatorSettings, fetch: any DNSHandler, statistics: ValidationStatistics,
                clock: @escaping @Sendable () -> Int64 = WallClock.seconds,
                onUnsignedUpstream: @escaping @Sendable (String) -> Void = { _ in }, logger: Logger) {
        self.settings = settings
        self.chain = TrustChain(anchors: settings.anchors, exemptions: settings.exemptions,
                                bogusTTL: settings.bogusTTL)
        self.fetch = fetch
        self.statistics = statistics
        self.clock = clock
        self.onUnsignedUpstream = onUnsignedUpstream
        self.logger = logger
    }

    /// Validates the upstream answer to `request` (or passes a CD query through), as the type's description says.
    public func handle(_ request: DNSRequest, eventLoop: any EventLoop, next: any DNSHandler)
        -> EventLoopFuture<DNSResponse>
    {
        let question = request.question
        if request.view.header.checkingDisabled || self.chain.isExempt(question.name) {
            let status: DNSSECStatus = request.view.header.checkingDisabled ? .indeterminate : .insecure
            return next.handle(request, eventLoop: eventLoop).map { response in
                var response = response
                response.message.clearDNSFlagBits(DNSHeader.Flag.ad)
                response.dnssec = status
                self.statistics.count(status: status)
                return response
            }
        }
        if let reason = self.knownBogus(question) {
            return eventLoop.makeSucceededFuture(self.bogus(reason, for: request))
        }
        // Nothing unvalidated goes out: a query that cannot be rebuilt with DO and CD is a failure, not a bypass.
        guard let upstreamRequest = Self.upstreamQuery(for: request) else {
            return eventLoop.makeSucceededFuture(self.unreachable(for: request))
        }
        return next.handle(upstreamRequest, eventLoop: eventLoop).flatMap { response in
            let started = NIODeadline.now()
            guard response.origin == .upstream, let message = try? DNSMessage(response.message) else {
                return eventLoop.makeSucceededFuture(self.unvalidated(response, for: request))
            }
            if message.additionals.first(where: { $0.type == .opt }).map({ $0.ttl & 0x8000 == 0 }) ?? true {
                self.noteUnsignedUpstream(response.upstream, why: "answered a DO query without the DO bit")
            }
            let checker = SignatureChecker(now: UInt32(truncatingIfNeeded: self.clock()),
                                           skew: self.settings.clockSkew)
            let parsed = ParsedAnswer(message, question: question)
            let names = parsed.requiredNames
            let stored = names.map { self.chain.storedSecurity(of: $0) }
            if stored.allSatisfy({ $0 != nil }) {
                let known = Dictionary(zip(names, stored.compactMap { $0 }), uniquingKeysWith: { first, _ in first })
                return eventLoop.makeSucceededFuture(
                    self.finish(message, parsed: parsed, response: response, for: request, checker: checker,
                                started: started, security: known))
            }
            let deadline = request.deadline
            return eventLoop.makeFutureWithTask {
                var known: [DNSName: ZoneSecurity] = [:]
                let check = DelegationCheck(validator: ResponseValidator(
                    checker: checker, iterationLimit: self.settings.nsec3IterationLimit))
                for name in names {
                    let security = await self.chain.security(of: name, check: check) { name, type in
                        await self.fetchRecords(name, type, deadline: deadline, eventLoop: eventLoop)
                    }
                    guard let security else { return self.unreachable(for: request) }
                    known[name] = security
                }
                return self.finish(message, parsed: parsed, response: response, for: request, checker: checker,
                                   started: started, security: known)
            }
        }
    }

    /// Validates `message` with every zone it needs known, and answers.
    private func finish(_ message: DNSMessage, parsed: ParsedAnswer, response: DNSResponse, for request: DNSRequest,
                        checker: SignatureChecker, started: NIODeadline, security: [DNSName: ZoneSecurity])
        -> DNSResponse
    {
        let validator = ResponseValidator(checker: checker, iterationLimit: self.settings.nsec3IterationLimit)
        let verdict = validator.validate(parsed) { name in
            security[name] ?? self.chain.storedSecurity(of: name) ?? .bogus(.bogus)
        }
        self.statistics.latency.record(.now() - started)
        let status: DNSSECStatus
        switch verdict {
        case .bogus(let reason):
            self.bogusAnswers.withLock { answers in
                if answers.count >= 10_000 { answers.removeAll(keepingCapacity: true) }
                answers[BogusKey(name: request.question.name, type: request.question.type)] =
                    (reason, .now() + self.settings.bogusTTL)
            }
            if self.logger.logLevel <= .debug {
                self.logger.debug("bogus answer", metadata: ["question": "\(request.question)",
                                                              "reason": "\(reason.rawValue)"])
            }
            return self.bogus(reason, for: request)
        case .secure: status = .secure
        case .insecure: status = .insecure
        case .indeterminate: status = .indeterminate
        }
        self.statistics.count(status: status)
        return DNSResponse(message: ClientAnswer.make(from: message, verdict: verdict, for: request, checker: checker),
                           origin: .upstream, upstream: response.upstream, dnssec: status)
    }

    /// A DS or DNSKEY query with DO and CD through the fetch path; nil when no usable answer came.
    private func fetchRecords(_ name: DNSName, _ type: DNSType, deadline: NIODeadline, eventLoop: any EventLoop) async
        -> DNSMessage?
    {
        var query = DNSMessage.query(name, type, udpPayloadSize: DNSErrorResponse.advertisedUDPPayloadSize,
                                     dnssecOK: true)
        query.flags |= DNSHeader.Flag.cd
        let buffer = query.encoded()
        guard let view = try? DNSMessageView(buffer),
              let request = DNSRequest(message: buffer, view: view,
                                       metadata: DNSRequestMetadata(client: nil, transport: .udp), deadline: deadline),
              // Pipeline stages run on their event loop; this task does not.
              let response = try? await eventLoop.flatSubmit({ self.fetch.handle(request, eventLoop: eventLoop) })
                  .get(),
              response.origin != .local, let message = try? DNSMessage(response.message)
        else { return nil }
        let rcode = DNSRCode(message.flags & 0x000F)
        guard rcode == .noError || rcode == .nxDomain else { return nil }
        if type == .dnskey, message.answers.contains(where: { $0.type == .dnskey }),
           !message.answers.contains(where: { $0.type == .rrsig }) {
            self.noteUnsignedUpstream(response.upstream, why: "sent a DNSKEY set without its RRSIGs")
        }
        return message
    }

    /// The client's query with DO and CD set (and an OPT record if it had none): dnsgate validates, so it wants the
    /// signatures and the data even where the upstream would call it bogus.
    static func upstreamQuery(for request: DNSRequest) -> DNSRequest? {
        var query = DNSMessage.query(request.question.name, request.question.type, id: request.id,
                                     udpPayloadSize: DNSErrorResponse.advertisedUDPPayloadSize, dnssecOK: true)
        query.questions[0].rrclass = request.question.rrclass
        query.flags = (request.view.header.flags & DNSHeader.Flag.rd) | DNSHeader.Flag.cd
        let buffer = query.encoded()
        guard let view = try? DNSMessageView(buffer) else { return nil }
        return DNSRequest(message: buffer, view: view, metadata: request.metadata, deadline: request.deadline)
    }

    private func knownBogus(_ question: DNSQuestion) -> BogusReason? {
        let now = NIODeadline.now()
        return self.bogusAnswers.withLock { answers in
            guard let entry = answers[BogusKey(name: question.name, type: question.type)] else { return nil }
            return entry.expires > now ? entry.reason : nil
        }
    }

    private func bogus(_ reason: BogusReason, for request: DNSRequest) -> DNSResponse {
        self.statistics.count(status: .bogus)
        self.statistics.count(reason: reason)
        var response = DNSResponse.error(.servFail, for: request, extendedError: reason.extendedError)
        response.dnssec = .bogus
        return response
    }

    /// dnsgate's own failure (no upstream answered), rebuilt for the client's query.
    private func unvalidated(_ response: DNSResponse, for request: DNSRequest) -> DNSResponse {
        let rcode = (try? DNSMessageView(response.message))?.rcode ?? .servFail
        var answer = DNSResponse.error(rcode, for: request, extendedError: .networkError)
        answer.dnssec = .indeterminate
        self.statistics.count(status: .indeterminate)
        return answer
    }

    /// No usable DS or DNSKEY answer came back, or no query could be made: nothing can be validated.
    private func unreachable(for request: DNSRequest) -> DNSResponse {
        var answer = DNSResponse.error(.servFail, for: request, extendedError: .networkError)
        answer.dnssec = .indeterminate
        self.statistics.count(status: .indeterminate)
        return answer
    }

    private func noteUnsignedUpstream(_ upstream: String?, why: String) {
        self.statistics.countUnsignedUpstreamAnswer()
        if let upstream { self.onUnsignedUpstream(upstream) }
        guard self.reportedUpstreams.withLock({ $0.insert(upstream ?? "?").inserted }) else { return }
        self.logger.warning("upstream fails DNSSEC: validation fails closed for what it answers",
                            metadata: ["upstream": "\(upstream ?? "?")", "problem": "\(why)"])
    }
}
