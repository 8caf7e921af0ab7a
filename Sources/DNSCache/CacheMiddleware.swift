public import DNSCore
import DNSWire
public import NIOCore

/// The cache stage of the pipeline. A fresh hit is answered on the spot. A miss goes on down the pipeline, and
/// identical queries that arrive meanwhile on the same event loop wait for that one answer instead of asking again.
/// When the answer is a failure (SERVFAIL) and an expired copy is still within the stale limit, the stale copy is
/// served instead (RFC 8767). A popular entry about to expire is refreshed in the background (prefetch).
public final class CacheMiddleware: DNSMiddleware {
    /// EDNS Client Subnet (RFC 7871): answers depend on the client's network, so they are never shared.
    static let clientSubnetOption: UInt16 = 8

    public let cache: DNSResponseCache
    private let refreshTimeout: TimeAmount
    private let waiting: [ObjectIdentifier: NIOLoopBoundBox<WaitingQueries>]

    /// Queries waiting for an answer already being fetched, per key; confined to one event loop.
    final class WaitingQueries {
        var byKey: [CacheKey: [(request: DNSRequest, promise: EventLoopPromise<DNSResponse>)]] = [:]
    }

    /// - Parameters:
    ///   - group: the event loops queries arrive on; coalescing happens per loop, without locks.
    ///   - refreshTimeout: how long a prefetch may take.
    public init(cache: DNSResponseCache, group: any EventLoopGroup, refreshTimeout: TimeAmount = .seconds(5)) {
        self.cache = cache
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
            return next.handle(request, eventLoop: eventLoop).map { response in
                self.settle(response, for: request, key: key, stale: stale).leader
            }
        }
        let table = box.value
        if table.byKey[key] != nil {
            let promise = eventLoop.makePromise(of: DNSResponse.self)
            table.byKey[key]?.append((request, promise))
            self.cache.statistics.coalesced.increment()
            return promise.futureResult
        }
        table.byKey[key] = []
        let answered = next.handle(request, eventLoop: eventLoop).map { response in
            let settled = self.settle(response, for: request, key: key, stale: stale)
            for waiter in box.value.byKey.removeValue(forKey: key) ?? [] {
                waiter.promise.succeed(settled.forOthers(waiter.request))
            }
            return settled.leader
        }
        // Handlers answer failures with SERVFAIL rather than failing; should one fail anyway, nobody is left waiting.
        answered.whenFailure { error in
            for waiter in box.value.byKey.removeValue(forKey: key) ?? [] { waiter.promise.fail(error) }
        }
        return answered
    }

    /// What a fetched answer means for the query that fetched it and for those that waited on it.
    private struct Settled {
        var leader: DNSResponse
        var forOthers: (DNSRequest) -> DNSResponse
    }

    private func settle(_ response: DNSResponse, for request: DNSRequest, key: CacheKey, stale: CachedAnswer?)
        -> Settled
    {
        let view = response.view ?? (try? DNSMessageView(response.message))
        if response.origin == .upstream, let view, let stored = self.cache.store(response.message, view: view, for: key) {
            return Settled(leader: response) { DNSResponse(message: stored.response(for: $0, age: 0), origin: .cache) }
        }
        if let stale, view?.rcode == .servFail {
            let staleTTL = self.cache.policy.staleTTL
            self.cache.statistics.staleServed.increment()
            let serve = { (client: DNSRequest) in
                DNSResponse(message: stale.response(for: client, age: 0, staleTTL: staleTTL), origin: .cache)
            }
            return Settled(leader: serve(request), forOthers: serve)
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
            guard response.origin == .upstream, let view = try? DNSMessageView(response.message) else { return }
            self.cache.store(response.message, view: view, for: key)
        }
    }
}
