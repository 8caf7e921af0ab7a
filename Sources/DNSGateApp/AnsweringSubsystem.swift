import Config
import DNSCache
import DNSCore
import DNSSEC
import DNSUpstream
import FakeIP
import Logging
import NIOCore
import RedisTier
import Synchronization

/// The query pipeline every way in answers with: the policy's stages and the fake-IP stage in front of the cache
/// (with its optional Redis tier and the file it is saved to) and the upstreams, every answer shown to the
/// observers. Both halves sit behind ``ReloadableHandler``s, so that a reload or a blocklist refresh swaps them
/// while queries flow.
final class AnsweringSubsystem: Sendable {
    /// The parts a rebuild reads.
    private struct State {
        var config: DNSGateConfig
        var cache: DNSResponseCache?
        /// Validation, when it is on.
        var validator: ValidatorSettings?
    }

    /// What the listeners, the TUN responder and the proxy's name lookups answer with.
    let pipeline: any DNSHandler
    /// Cache and upstreams: what the fake-IP stage resolves through, and how the proxy finds real addresses.
    let resolving: ReloadableHandler
    private let answering: ReloadableHandler
    private let redis: RedisClient?
    private let savedCache: SavedCacheFile?
    private let upstreams: UpstreamSubsystem
    private let policy: PolicySubsystem
    private let fakeIP: FakeIPPersistence?
    private let group: any EventLoopGroup
    private let logger: Logger
    /// The query timeout the listeners stamp deadlines with (the one at start).
    private let stampedQueryTimeout: TimeAmount
    private let state: Mutex<State>
    /// What validation has found, across reloads.
    let validation = ValidationStatistics()

    init(config: DNSGateConfig, upstreams: UpstreamSubsystem, policy: PolicySubsystem, fakeIP: FakeIPPersistence?,
         observers: [any QueryObserver], group: any EventLoopGroup, logger: Logger) throws {
        self.upstreams = upstreams
        self.policy = policy
        self.fakeIP = fakeIP
        self.group = group
        self.logger = logger
        self.stampedQueryTimeout = config.queryTimeout
        self.redis = config.cache == nil ? nil : config.cacheRedis.map {
            RedisClient(url: $0, group: group, connectTimeout: config.upstreamConnectTimeout, logger: logger)
        }
        self.savedCache = config.cacheSaveFile.map { SavedCacheFile(path: $0, logger: logger) }
        let cache = config.cache.map { DNSResponseCache(policy: $0) }
        if let cache { self.savedCache?.load(into: cache) }
        let state = State(config: config, cache: cache, validator: try ValidatorSetup.settings(for: config))
        self.state = Mutex(state)
        self.resolving = ReloadableHandler(Self.resolvingPipeline(state, upstream: upstreams.current, redis: self.redis,
                                                                  validation: self.validation, group: group,
                                                                  logger: logger))
        self.answering = ReloadableHandler(Self.answeringPipeline(config, policy: policy, fakeIP: fakeIP,
                                                                  resolving: self.resolving))
        self.pipeline = observers.isEmpty ? self.answering : ObservedHandler(self.answering, observers: observers)
        policy.onChange { [weak self] in self?.rebuildAnswering() }
    }

    /// The cache in use now.
    var cache: DNSResponseCache? { self.state.withLock { $0.cache } }

    /// Whether validation is on now.
    var validating: Bool { self.state.withLock { $0.validator != nil } }

    /// The Redis tier, if any (for the start-up log line).
    var sharedCache: String { self.redis.map { "\($0.url)" } ?? "none" }

    /// Builds both halves anew for `config` and the upstreams in use now; new cache limits get a new cache, filled
    /// with what the old one holds.
    func reload(_ config: DNSGateConfig) {
        let state = self.state.withLock { state -> State in
            if let old = state.cache, let policy = config.cache, policy != old.policy {
                let resized = DNSResponseCache(policy: policy)
                _ = try? resized.restore(old.saved())
                state.cache = resized
            }
            state.config = config
            // The reloader checked the anchor files; should one have gone since, the running anchors stay.
            state.validator = config.dnssec == nil ? nil : ((try? ValidatorSetup.settings(for: config)) ?? state.validator)
            return state
        }
        self.resolving.replace(with: Self.resolvingPipeline(state, upstream: self.upstreams.current, redis: self.redis,
                                                            validation: self.validation, group: self.group,
                                                            logger: self.logger))
        self.rebuildAnswering()
    }

    /// Closes Redis and saves the cache, if configured: after every way in has stopped.
    func stop() async {
        await self.redis?.shutdown()
        if let cache = self.cache { self.savedCache?.save(cache) }
    }

    /// A new answering half from the configuration in force and the policy as it is now.
    private func rebuildAnswering() {
        let config = self.state.withLock { $0.config }
        self.answering.replace(with: Self.answeringPipeline(config, policy: self.policy, fakeIP: self.fakeIP,
                                                            resolving: self.resolving),
                               deadlineShift: config.queryTimeout - self.stampedQueryTimeout)
    }

    /// Cache, then validation when it is on, then upstreams: what every query ends in. The validator fetches DS
    /// and DNSKEY sets through the same cache and upstreams.
    private static func resolvingPipeline(_ state: State, upstream: any Upstream, redis: RedisClient?,
                                          validation: ValidationStatistics, group: any EventLoopGroup,
                                          logger: Logger) -> any DNSHandler {
        var stages: [any DNSMiddleware] = []
        if let cache = state.cache {
            let shared = redis.map { SharedAnswers(tier: RedisCacheTier(client: $0), budget: state.config.cacheRedisTimeout) }
            stages.append(CacheMiddleware(cache: cache, group: group, shared: shared,
                                          refreshTimeout: state.config.queryTimeout))
        }
        let forwarder = ForwardingHandler(upstream: upstream, logger: logger)
        guard let validator = state.validator else { return DNSPipeline(middlewares: stages, terminal: forwarder) }
        let fetch = DNSPipeline(middlewares: stages, terminal: forwarder)
        let resolvers = upstream.resolvers
        stages.append(DNSSECValidationMiddleware(
            settings: validator, fetch: fetch, statistics: validation,
            onUnsignedUpstream: { name in resolvers.first { $0.description == name }?.noteMissingDNSSEC() },
            logger: logger))
        return DNSPipeline(middlewares: stages, terminal: forwarder)
    }

    /// The policy's stages and the fake-IP stage (those that are on) in front of `resolving`.
    private static func answeringPipeline(_ config: DNSGateConfig, policy: PolicySubsystem, fakeIP: FakeIPPersistence?,
                                          resolving: ReloadableHandler) -> any DNSHandler {
        var stages = policy.middlewares(for: config)
        if let fakeIP, let settings = config.fakeIP, let pool4 = fakeIP.pools.first {
            stages.append(FakeIPMiddleware(pool4: pool4, pool6: fakeIP.pools.dropFirst().first,
                                           settings: settings.answer))
        }
        return DNSPipeline(middlewares: stages, terminal: resolving)
    }
}
