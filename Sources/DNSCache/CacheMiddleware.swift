public import DNSCore
import DNSWire
public import NIOCore

/// The cache stage of the pipeline. A fresh hit is answered on the spot. A miss goes on down the pipeline, and
/// identical queries that arrive meanwhile on the same event loop wait for that one answer instead of asking again.
/// When an expired copy is still within the stale limit, it is served (RFC 8767) if the answer is a failure
/// (SERVFAIL), or if no answer has come within the client response timer (`staleAnswerTimeout`), in which case the
/// fetch goes on and refreshes the cache when it succeeds. A popular entry about to expire is refreshed in the background (prefetch). With a
/// shared tier, a miss reads it (within its budget) before going upstream, and upstream answers are published to it.
public final class CacheMiddleware: DNSMiddleware {
    /// EDNS Client Subnet (RFC 7871): answers depend on the client's network, so they are never shared.
    static let clientSubnetOption: UInt16 = 8

    public let cache: DNSResponseCache
    private let shared: SharedAnswers?
    private let refreshTimeout: TimeAmount
    private let waiting: [ObjectIdentifier: NIOLoopBoundBox<WaitingQueries>]

    /// Queries waiting for an answer already being fetched, per key; confined to one event loop.
    final class WaitingQueries {
        var byKey: [CacheKey: [(request: DNSRequest, promise: EventLoopPromise<DNSResponse>)]] = [:]
        /// Keys whose fetch outlived the client response timer: their queries get the stale answer at once.
        var servingStale: Set<CacheKey> = []
    }

    /// - Parameters:
    ///   - group: the event loops queries arrive on; coalescing happens per loop, without locks.
    ///   - shared: the tier shared with other instances, if any.
    ///   - refreshTimeout: how long a prefetch may take.
    public init(cache: DNSResponseCache, group: any EventLoopGroup, shared: SharedAnswers? = nil,
                refreshTimeout: TimeAmount = .seconds(5)) {
        self.cache = cache
        self.shared = shared
        self.refreshTimeout = refreshTimeout
        var waiting: [ObjectIdentifier: NIOLoopBoundBox<WaitingQueries>] = [:]
        for loop in group.makeIterator() {
            waiting[ObjectIdentifier(loop)] = NIOLoopBoundBox.makeBoxSendingValue(
                WaitingQueries(), as: WaitingQueries.self, eventLoop: loop)
        }
        self.waiting = waiting
    }

    public func handle(_ request: DNSRequest, eventLoop: any EventLoop, next: any DNSHandler)
        -> EventLoopFuture<DNSResponse>
    {
        guard Self.mayShareAnswers(request) else { return next.handle(request, eventLoop: eventLoop) }
        let key = CacheKey(request)
        switch self.cache.lookup(key) {
        case .fresh(let answer, let age, let refresh):
            if refresh, self.cache.beginPrefetch(key) { self.prefetch(request, key: key, eventLoop: eventLoop, next: next) }
            return eventLoop.makeSucceededFuture(self.hit(answer, age: age, for: request))
        case .stale(let answer):
            return self.fetch(request, key: key, stale: answer, eventLoop: eventLoop, next: next)
        case .miss:
            return self.fetch(request, key: key, stale: nil, eventLoop: eventLoop, next: next)
        }
    }

    /// A fresh hit that needs no refresh is answered at once; everything else waits for `handle`.
    public func immediateOutcome(for request: DNSRequest) -> DNSImmediateOutcome {
        guard Self.mayShareAnswers(request),
            case .fresh(let answer, let age, refresh: false) = self.cache.lookup(CacheKey(request))
        else { return .wait }
        return .answer(self.hit(answer, age: age, for: request))
    }

    /// Whether `request` may be answered from, and its answer stored in, the shared cache.
    private static func mayShareAnswers(_ request: DNSRequest) -> Bool {
        guard let opt = request.view.opt else { return true }
        return !request.message.dnsHasEDNSOption(Self.clientSubnetOption, opt: opt)
    }

    private func hit(_ answer: CachedAnswer, age: UInt32, for request: DNSRequest) -> DNSResponse {
        self.cache.statistics.hits.increment()
        return DNSResponse(message: answer.response(for: request, age: age), origin: .cache)
    }

    private func fetch(_ request: DNSRequest, key: CacheKey, stale: CachedAnswer?, eventLoop: any EventLoop,
                       next: any DNSHandler) -> EventLoopFuture<DNSResponse> {
        self.cache.statistics.misses.increment()
        guard let box = self.waiting[ObjectIdentifier(eventLoop)] else {
            return self.resolve(request, key: key, eventLoop: eventLoop, next: next).map { fetched in
                self.settle(fetched, for: request, key: key, stale: stale, eventLoop: eventLoop).leader
            }
        }
        let table = box.value
        if table.byKey[key] != nil {
            if let stale, table.servingStale.contains(key) {
                return eventLoop.makeSucceededFuture(self.staleResponse(stale, for: request))
            }
            let promise = eventLoop.makePromise(of: DNSResponse.self)
            table.byKey[key]?.append((request, promise))
            self.cache.statistics.coalesced.increment()
            return promise.futureResult
        }
        table.byKey[key] = []
        let leader = eventLoop.makePromise(of: DNSResponse.self)
        let timer = stale.map { stale in
            eventLoop.assumeIsolated().scheduleTask(in: Self.timeAmount(self.cache.policy.staleAnswerTimeout)) {
                // RFC 8767 §5: the upstreams are slow; answer from the stale copy and let the fetch go on.
                table.servingStale.insert(key)
                leader.succeed(self.staleResponse(stale, for: request))
                for waiter in table.byKey[key] ?? [] { waiter.promise.succeed(self.staleResponse(stale, for: waiter.request)) }
                table.byKey[key] = []
            }
        }
        self.resolve(request, key: key, eventLoop: eventLoop, next: next).assumeIsolated().whenComplete { result in
            timer?.cancel()
            let answeredEarly = table.servingStale.remove(key) != nil
            let waiters = table.byKey.removeValue(forKey: key) ?? []
            switch result {
            case .success(let fetched):
                let settled = self.settle(fetched, for: request, key: key, stale: answeredEarly ? nil : stale,
                                          eventLoop: eventLoop)
                for waiter in waiters { waiter.promise.succeed(settled.forOthers(waiter.request)) }
                if !answeredEarly { leader.succeed(settled.leader) }
            case .failure(let error):
                // Handlers answer failures with SERVFAIL rather than failing; should one fail anyway, nobody is
                // left waiting.
                for waiter in waiters { waiter.promise.fail(error) }
                if !answeredEarly { leader.fail(error) }
            }
        }
        return leader.futureResult
    }

    /// `stale` as the answer to `request`: TTL `staleTTL`, Extended DNS Error 3.
    private func staleResponse(_ stale: CachedAnswer, for request: DNSRequest) -> DNSResponse {
        self.cache.statistics.staleServed.increment()
        return DNSResponse(message: stale.response(for: request, age: 0, staleTTL: self.cache.policy.staleTTL),
                           origin: .cache)
    }

    private static func timeAmount(_ duration: Duration) -> TimeAmount {
        .nanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }

    /// Where a missed answer came from.
    private enum Fetched {
        /// The shared tier, already stored locally.
        case shared(CachedAnswer)
        /// The rest of the pipeline.
        case answered(DNSResponse)
    }

    /// The shared tier's answer if it has one in time, else the rest of the pipeline's.
    private func resolve(_ request: DNSRequest, key: CacheKey, eventLoop: any EventLoop, next: any DNSHandler)
        -> EventLoopFuture<Fetched>
    {
        guard let shared = self.shared else { return next.handle(request, eventLoop: eventLoop).map { .answered($0) } }
        return shared.lookup(key, in: self.cache, eventLoop: eventLoop).flatMap { found in
            if let found { return eventLoop.makeSucceededFuture(.shared(found)) }
            return next.handle(request, eventLoop: eventLoop).map { .answered($0) }
        }
    }

    /// What a fetched answer means for the query that fetched it and for those that waited on it.
    private struct Settled {
        var leader: DNSResponse
        var forOthers: (DNSRequest) -> DNSResponse
    }

    private func settle(_ fetched: Fetched, for request: DNSRequest, key: CacheKey, stale: CachedAnswer?,
                        eventLoop: any EventLoop) -> Settled
    {
        let response: DNSResponse
        switch fetched {
        case .shared(let answer):
            let serve = { (client: DNSRequest) in DNSResponse(message: answer.response(for: client, age: 0), origin: .cache) }
            return Settled(leader: serve(request), forOthers: serve)
        case .answered(let answered):
            response = answered
        }
        let view = response.view ?? (try? DNSMessageView(response.message))
        // A validated secure answer is stored with AD, which serving keeps for the clients that ask for it.
        var storable = response.message
        if response.dnssec == .secure { storable.setDNSFlagBits(DNSHeader.Flag.ad) }
        if response.origin == .upstream, let view, let stored = self.cache.store(storable, view: view, for: key) {
            self.shared?.publish(stored, for: key, eventLoop: eventLoop)
            return Settled(leader: response) { DNSResponse(message: stored.response(for: $0, age: 0), origin: .cache) }
        }
        if let stale, view?.rcode == .servFail {
            return Settled(leader: self.staleResponse(stale, for: request)) { self.staleResponse(stale, for: $0) }
        }
        // Not cacheable: every waiter gets the same answer with its own ID and spelling.
        return Settled(leader: response) { client in
            var message = response.message
            message.setDNSMessageID(client.id)
            if let view { message.restoreDNSQuestionSpelling(client.question.name, view: view) }
            return DNSResponse(message: message, origin: response.origin)
        }
    }

    private func prefetch(_ request: DNSRequest, key: CacheKey, eventLoop: any EventLoop, next: any DNSHandler) {
        guard let refresh = DNSRequest(message: request.message, view: request.view, metadata: request.metadata,
                                       deadline: .now() + self.refreshTimeout)
        else { return }
        self.cache.statistics.prefetches.increment()
        next.handle(refresh, eventLoop: eventLoop).whenSuccess { response in
            guard response.origin == .upstream, let view = try? DNSMessageView(response.message),
                let stored = self.cache.store(response.message, view: view, for: key)
            else { return }
            self.shared?.publish(stored, for: key, eventLoop: eventLoop)
        }
    }
}
