import Atomics
import DNSWire
public import Logging
public import NIOCore
import UpstreamTLS
import DNSQUIC
public import DNSCore

/// One upstream resolver, reached over TLS, HTTPS, QUIC, TCP or UDP, with its own persistent connections on every event loop
/// of the group: a query is sent on the loop it arrived on, so the hot path never hops threads.
public final class ResolverUpstream: Upstream {
    public let address: UpstreamAddress
    /// What this upstream did (a UDP upstream's TCP retries of truncated answers count here too).
    public let statistics: UpstreamStatistics
    /// Whether it is fit for client traffic, and how fast it answers.
    public let health: UpstreamHealth
    private let slots: [ObjectIdentifier: [NIOLoopBoundBox<UpstreamConnectionSlot>]]
    private let anyLoop: any EventLoop
    /// For UDP upstreams: where truncated answers are asked again.
    private let tcpFallback: ResolverUpstream?
    /// Whether queries are padded to 128-octet blocks (RFC 7830, RFC 8467).
    private let padsQueries: Bool
    /// Queries in flight on a connection from which the next connection is used.
    private let spreadThreshold: Int
    /// For DoT: whether the server refused ALPN `dot`.
    private let alpnFallback: ALPNFallback?
    /// For DoH: GET or POST.
    private let method: DoHMethodChoice?

    /// How many times a query lost with its connection or stream is sent again, within its deadline.
    static let lostQueryRetries = 2

    /// - Parameters:
    ///   - trustAnchorFiles: for TLS and DoH, PEM files of trust anchors used besides the system's.
    ///   - connectionsPerLoop: how many connections each event loop may open to this upstream: the first carries
    ///     queries until it has `options.spreadThreshold` in flight, then the next is used (opened on first use,
    ///     closed again after the idle timeout), and so on; when all are that busy, the least busy takes the query.
    ///   - httpGET: for DoH, whether queries are sent with GET rather than POST (POST switches to GET by itself
    ///     when the server keeps resetting POST streams).
    ///   - padsQueries: whether queries are padded (and the padding taken out of answers again).
    ///   - authentication: for TLS and DoH, how the server is authenticated.
    ///   - resumesTLSSessions: for TLS and DoH, whether reconnects resume the session the server issued.
    ///   - bootstrap: where the upstream's host name is resolved (nil: the system resolver).
    public init(
        address: UpstreamAddress,
        group: any EventLoopGroup,
        trustAnchorFiles: [String] = [],
        options: UpstreamConnectionOptions,
        connectionsPerLoop: Int = 1,
        statistics: UpstreamStatistics? = nil,
        health: UpstreamHealth.Settings = UpstreamHealth.Settings(),
        httpGET: Bool = false,
        padsQueries: Bool = false,
        authentication: UpstreamAuthentication = UpstreamAuthentication(),
        resumesTLSSessions: Bool = true,
        bootstrap: BootstrapResolver? = nil,
        logger: Logger
    ) throws {
        self.address = address
        self.padsQueries = padsQueries
        if address.transport.usesTLS, authentication.profile == .opportunistic {
            logger.warning("upstream is not authenticated (opportunistic profile): encrypted, but open to an active attacker",
                           metadata: ["upstream": "\(address)"])
        }
        let statistics = statistics ?? UpstreamStatistics(name: address.description)
        self.statistics = statistics
        self.health = UpstreamHealth(name: address.description, settings: health, logger: logger)
        self.alpnFallback = address.transport == .tls ? ALPNFallback(upstream: address.description, logger: logger) : nil
        let method = DoHMethodChoice(configuredGET: httpGET, upstream: address.description, logger: logger)
        self.method = address.transport == .https ? method : nil
        let connector: any UpstreamConnector
        switch address.transport {
        case .tls:
            connector = StreamConnector(
                address: address, tlsContext: try Self.tlsContext(trustAnchorFiles, authentication, alpn: "dot",
                                                          resumes: resumesTLSSessions),
                options: options, statistics: statistics, pins: authentication.pins, resolver: bootstrap,
                alpnFallback: self.alpnFallback)
            self.tcpFallback = nil
        case .https:
            let port = address.port == 443 ? "" : ":\(address.port)"
            let authority = (address.tlsName ?? (address.host.contains(":") ? "[\(address.host)]" : address.host)) + port
            connector = StreamConnector(
                address: address, tlsContext: try Self.tlsContext(trustAnchorFiles, authentication, alpn: "h2",
                                                          resumes: resumesTLSSessions),
                options: options, statistics: statistics, pins: authentication.pins, resolver: bootstrap,
                http2: DoHMultiplexer.Request(authority: authority, path: address.path, method: method))
            self.tcpFallback = nil
        case .quic:
            let endpoint: QUICClientEndpoint
            do {
                endpoint = try QUICClientEndpoint(alpn: "doq", trustAnchorFiles: trustAnchorFiles,
                                                  verifiesCertificates: authentication.checksCertificates)
            } catch {
                throw UpstreamError.tlsFailed(address.description, reason: "\(error)")
            }
            connector = QUICConnector(
                address: address,
                settings: DoQMultiplexer.Settings(
                    endpoint: endpoint, serverName: address.tlsName ?? address.host, pins: authentication.pins,
                    sessions: resumesTLSSessions ? QUICSessionStore() : nil, statistics: statistics,
                    upstreamName: address.description, maxInFlight: options.maxInFlight,
                    idleTimeout: options.idleTimeout),
                options: options, resolver: bootstrap)
            self.tcpFallback = nil
        case .tcp:
            connector = StreamConnector(address: address, tlsContext: nil, options: options, statistics: statistics,
                                        resolver: bootstrap)
            self.tcpFallback = nil
        case .udp:
            connector = DatagramConnector(address: address, options: options, statistics: statistics,
                                          resolver: bootstrap)
            self.tcpFallback = try ResolverUpstream(
                address: UpstreamAddress(transport: .tcp, host: address.host, port: address.port),
                group: group, options: options, connectionsPerLoop: 1,
                statistics: statistics, bootstrap: bootstrap, logger: logger)
        }
        var slots: [ObjectIdentifier: [NIOLoopBoundBox<UpstreamConnectionSlot>]] = [:]
        var anyLoop: (any EventLoop)? = nil
        for loop in group.makeIterator() {
            anyLoop = anyLoop ?? loop
            slots[ObjectIdentifier(loop)] = (0..<max(1, connectionsPerLoop)).map { _ in
                NIOLoopBoundBox.makeBoxSendingValue(
                    UpstreamConnectionSlot(eventLoop: loop, connector: connector, name: address.description,
                                           maxWaiters: options.maxInFlight, statistics: statistics,
                                           isTLS: address.transport.usesTLS, logger: logger),
                    as: UpstreamConnectionSlot.self, eventLoop: loop)
            }
        }
        self.slots = slots
        self.spreadThreshold = options.spreadThreshold
        self.anyLoop = anyLoop ?? group.next()
    }

    public var description: String { self.address.description }

    /// Set once this upstream has been seen to drop DNSSEC data (``noteMissingDNSSEC()``).
    private let missingDNSSEC = ManagedAtomic(false)

    /// What dnsgate changed in how it talks to this upstream, or found wrong with it, because of how the upstream
    /// behaved, for the admin API: `alpn=off` (a DoT server that refused ALPN `dot`), `method=get` (a DoH server
    /// that reset POST streams), `dnssec=missing` (answers to DO queries without the DO bit or without signatures,
    /// which validation fails).
    public var adjustments: [String] {
        var adjustments: [String] = []
        if self.alpnFallback?.isActive == true { adjustments.append("alpn=off") }
        if self.method?.switchedToGET == true { adjustments.append("method=get") }
        if self.missingDNSSEC.load(ordering: .relaxed) { adjustments.append("dnssec=missing") }
        return adjustments
    }

    /// Records that this upstream answered a DO query without the DO bit or sent a DNSKEY set without signatures.
    public func noteMissingDNSSEC() {
        self.missingDNSSEC.store(true, ordering: .relaxed)
    }

    /// The TLS context of an encrypted upstream: certificate checks as `authentication` says, ALPN `alpn`, and the
    /// store of the sessions its servers issue, so that reconnects resume them.
    private static func tlsContext(_ trustAnchorFiles: [String], _ authentication: UpstreamAuthentication,
                                   alpn: String, resumes: Bool) throws -> TLSClientContext {
        try TLSClientContext(configuration: TLSClientConfiguration(
            applicationProtocols: [alpn], verifiesCertificates: authentication.checksCertificates,
            additionalTrustAnchorFiles: trustAnchorFiles, resumesSessions: resumes))
    }

    public var resolvers: [ResolverUpstream] { [self] }

    public func send(_ query: UpstreamQuery, on eventLoop: any EventLoop) -> EventLoopFuture<UpstreamAnswer> {
        guard self.padsQueries, let view = try? DNSMessageView(query.message) else {
            return self.sendAsIs(query, on: eventLoop)
        }
        var padded = query
        padded.message = query.message.dnsPadded(toMultipleOf: ByteBuffer.queryPaddingBlock, view: view)
        let clientSentOPT = view.opt != nil
        return self.sendAsIs(padded, on: eventLoop).flatMapThrowing { answer in
            // The client asked without padding: the answer goes back without it (and without an OPT record when
            // the client sent none).
            guard let stripped = answer.message.dnsWithoutPadding(view: answer.view, keepOPT: clientSentOPT) else {
                return answer
            }
            return UpstreamAnswer(message: stripped, view: try DNSMessageView(stripped), upstream: answer.upstream)
        }
    }

    /// Sends `query` on this loop's least busy connection; a query lost with its connection or HTTP/2 stream is sent
    /// again (a new connection or stream) up to `retries` times while its deadline allows, so that a server that
    /// restarts or resets streams costs no answer.
    private func sendAsIs(_ query: UpstreamQuery, on eventLoop: any EventLoop,
                          retries: Int = ResolverUpstream.lostQueryRetries) -> EventLoopFuture<UpstreamAnswer> {
        guard let boxes = self.slots[ObjectIdentifier(eventLoop)] else {
            // A loop outside the group (tests, other components): use one of ours and come back.
            return self.anyLoop.flatSubmit { self.sendAsIs(query, on: self.anyLoop) }.hop(to: eventLoop)
        }
        // `attempt` is what the connection completes; the caller gets `answered`, the same promise unless a lost
        // query may be asked again. The one callback counts the outcome and, if need be, retries: no future is
        // chained per query (a `flatMapError` here cost about a third of a DoT miss's CPU, `perf record`).
        let attempt = eventLoop.makePromise(of: UpstreamAnswer.self)
        let answered = retries == 0 ? attempt : eventLoop.makePromise(of: UpstreamAnswer.self)
        var chosen = boxes[0].value
        if chosen.inFlight >= self.spreadThreshold {
            for box in boxes.dropFirst() {
                let slot = box.value
                if slot.inFlight < self.spreadThreshold {
                    chosen = slot
                    break
                }
                if slot.inFlight < chosen.inFlight { chosen = slot }
            }
        }
        let statistics = self.statistics
        let health = self.health
        let start = NIODeadline.now()
        statistics.started()
        attempt.futureResult.whenComplete { result in
            switch result {
            case .success(let answer):
                let roundTrip = statistics.finished(startedAt: start, failure: nil)
                health.succeeded(roundTrip: roundTrip)
                if retries > 0 { answered.succeed(answer) }
            case .failure(let error):
                let kind = UpstreamError.kind(of: error)
                statistics.finished(startedAt: start, failure: kind)
                if kind.saysUpstreamIsUnwell { health.failed(error: error) }
                guard retries > 0 else { return }
                if (error as? UpstreamError)?.isLostInFlight == true, NIODeadline.now() < query.deadline {
                    self.sendAsIs(query, on: eventLoop, retries: retries - 1).cascade(to: answered)
                } else {
                    answered.fail(error)
                }
            }
        }
        chosen.send(query, promise: attempt)
        guard let tcpFallback = self.tcpFallback else { return answered.futureResult }
        return answered.futureResult.flatMap { answer in
            // RFC 7766 §5: a truncated UDP answer is asked again over TCP.
            guard answer.view.header.isTruncated else { return eventLoop.makeSucceededFuture(answer) }
            return tcpFallback.send(query, on: eventLoop)
        }
    }

    public func shutdown() async {
        for boxes in self.slots.values {
            for box in boxes {
                try? await box.eventLoop.submit { box.value.shutdown() }.get()
            }
        }
        await self.tcpFallback?.shutdown()
    }
}
