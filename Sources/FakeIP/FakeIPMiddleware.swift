public import DNSCore
import DNSWire
public import NIOCore

/// The fake-IP stage: A (and AAAA, with an IPv6 range) queries get an address of the pool's own, unique per name,
/// so that a connection to it tells the transparent proxy which name it is for. With `resolveFirst`, a name without
/// an address is first resolved through the rest of the pipeline, and a name that does not exist keeps its
/// NXDOMAIN. Without an IPv6 range AAAA gets NODATA (a real AAAA would let dual-stack clients bypass the proxy).
/// PTR queries for pool addresses return their names. Excluded names and other types pass through.
public final class FakeIPMiddleware: DNSMiddleware {
    /// What the stage answers with (`fakeip.ttl`, `fakeip.exclude`, `fakeip.resolve_first`).
    public typealias Settings = FakeIPAnswerSettings

    public let pool4: FakeIPPool
    public let pool6: FakeIPPool?
    private let settings: Settings
    private let clock: @Sendable () -> Int64

    /// - Parameter clock: seconds since 1970.
    public init(pool4: FakeIPPool, pool6: FakeIPPool?, settings: Settings,
                clock: @escaping @Sendable () -> Int64 = WallClock.seconds) {
        self.pool4 = pool4
        self.pool6 = pool6
        self.settings = settings
        self.clock = clock
    }

    private enum Decision {
        case pass
        case answer(DNSResponse)
        case resolveThenAnswer(FakeIPPool, String)
    }

    private func decide(_ request: DNSRequest) -> Decision {
        guard request.question.rrclass == .in else { return .pass }
        let name = request.question.name.description.lowercased()
        switch request.question.type {
        case .a, .aaaa:
            guard !self.settings.exclude.contains(where: { $0.matches(name) }) else { return .pass }
            guard let pool = request.question.type == .a ? self.pool4 : self.pool6 else {
                return .answer(.local([], for: request))
            }
            if self.settings.resolveFirst, !pool.contains(name) { return .resolveThenAnswer(pool, name) }
            return .answer(self.answer(request, name: name, pool: pool))
        case .ptr:
            guard let address = IPAddress(reverseName: name),
                let pool = [self.pool4, self.pool6].compactMap({ $0 }).first(where: { $0.range.prefix.contains(address) })
            else { return .pass }
            guard let owner = pool.name(for: address), let wire = DNSName(owner)?.wire else {
                return .answer(.local([], for: request, rcode: .nxDomain))
            }
            return .answer(.local([DNSLocalRecord(type: .ptr, ttl: self.settings.ttl, rdata: wire)], for: request))
        default:
            return .pass
        }
    }

    private func answer(_ request: DNSRequest, name: String, pool: FakeIPPool) -> DNSResponse {
        let ttl = self.settings.ttl
        guard let address = pool.address(for: name, now: self.clock(), minimumIdle: Int64(ttl)) else {
            // Every address is in use by a connection or may still be in a client's cache.
            return .error(.servFail, for: request, extendedError: .other)
        }
        var response = DNSResponse.local([DNSLocalRecord(type: request.question.type, ttl: ttl, rdata: address.bytes)],
                                         for: request)
        response.origin = .fakeIP
        return response
    }

    public func immediateOutcome(for request: DNSRequest) -> DNSImmediateOutcome {
        switch self.decide(request) {
        case .pass: .pass
        case .answer(let response): .answer(response)
        case .resolveThenAnswer: .wait
        }
    }

    public func handle(_ request: DNSRequest, eventLoop: any EventLoop, next: any DNSHandler)
        -> EventLoopFuture<DNSResponse>
    {
        switch self.decide(request) {
        case .pass:
            return next.handle(request, eventLoop: eventLoop)
        case .answer(let response):
            return eventLoop.makeSucceededFuture(response)
        case .resolveThenAnswer(let pool, let name):
            return next.handle(request, eventLoop: eventLoop).map { response in
                let rcode = response.view?.rcode ?? (try? DNSMessageView(response.message))?.rcode
                guard rcode == .noError else { return response }
                return self.answer(request, name: name, pool: pool)
            }
        }
    }
}
