import Config
import DNSCache
import DNSCore
import DNSFrontend
import DNSPolicy
import DNSUpstream
import FakeIP
import Logging
import NIOCore
import RedisTier
import Synchronization
import TransparentProxy

/// What a ``DNSGateConfig`` builds, wired together but not yet listening: upstreams, the optional Redis tier, cache
/// and fake-IP stores, the query pipeline, the transparent proxy and the listeners. The pipeline sits behind
/// ``ReloadableHandler``s, so that ``reload(_:)`` can swap upstreams, cache limits and fake-IP answers while queries
/// flow. ``stop(gracePeriod:)`` takes everything down in the reverse order of the traffic: listeners first, so no
/// query is cut off by a closed upstream.
final class DNSGateComponents: Sendable {
    /// The parts a reload replaces.
    private struct QueryPath {
        var upstream: any Upstream
        var cache: DNSResponseCache?
        var config: DNSGateConfig
    }

    let redis: RedisClient?
    let fakeIP: FakeIPPersistence?
    let savedCache: SavedCacheFile?
    /// What the listeners and the TUN responder answer with: the fake-IP stage (if on), cache, upstreams, every
    /// answer counted in `queryMetrics` when metrics are on.
    let pipeline: any DNSHandler
    /// The answered queries' counters, or nil when the admin listener (and with it metrics) is off.
    let queryMetrics: QueryMetrics?
    let proxy: TransparentProxyServer?
    let frontend: DNSFrontend
    /// The DoT and DoH listeners' certificate, when there are such listeners, and the task that watches its files.
    let listenerCertificate: ServerTLSContext?
    /// The query log, when on, and the task that writes it.
    let queryLog: QueryLog?
    private let queryLogWriter: Task<Void, Never>?
    private let certificateWatch: Task<Void, Never>?
    /// Fake-IP stage, cache, upstreams.
    private let answering: ReloadableHandler
    /// Cache and upstreams: what the fake-IP stage resolves through, and how the proxy finds real addresses.
    private let resolving: ReloadableHandler
    private let path: Mutex<QueryPath>
    /// The blocklists in use and the task that refreshes them, when blocking is on.
    private let blocklists: Mutex<(loader: BlocklistLoader, refresher: Task<Void, Never>)?>
    /// The rate limiter's buckets, kept across pipeline swaps (reloads, blocklist refreshes) while its settings stay
    /// the same, so that a client over its rate gets no fresh burst from a swap.
    private let rateLimiter: Mutex<ClientRateLimiter?>
    let group: any EventLoopGroup
    private let logger: Logger

    init(config: DNSGateConfig, group: any EventLoopGroup, logger: Logger) throws {
        self.group = group
        self.logger = logger
        self.redis = config.cache == nil ? nil : config.cacheRedis.map {
            RedisClient(url: $0, group: group, connectTimeout: config.upstreamConnectTimeout, logger: logger)
        }
        let fakeIP = try config.fakeIP.map { try DNSGateService.openFakeIP($0) }
        self.fakeIP = fakeIP
        self.savedCache = config.cacheSaveFile.map { SavedCacheFile(path: $0, logger: logger) }
        let cache = config.cache.map { DNSResponseCache(policy: $0) }
        if let cache { self.savedCache?.load(into: cache) }
        let path = QueryPath(upstream: try DNSGateService.makeUpstream(config, group: group, logger: logger),
                             cache: cache, config: config)
        let resolving = ReloadableHandler(Self.resolvingPipeline(path, redis: self.redis, group: group,
                                                                 logger: logger))
        let blocklists = config.blocking.map { BlocklistLoader(settings: $0, logger: logger) }
        self.blocklists = Mutex(nil)
        let rateLimiter = config.rateLimit.map(ClientRateLimiter.init(settings:))
        self.rateLimiter = Mutex(rateLimiter)
        let answering = ReloadableHandler(Self.answeringPipeline(config, fakeIP: fakeIP, blocking: blocklists?.policy,
                                                                 rateLimiter: rateLimiter, resolving: resolving))
        self.resolving = resolving
        self.answering = answering
        self.path = Mutex(path)
        if let fakeIP, let proxySettings = config.fakeIP?.proxy {
            self.proxy = TransparentProxyServer(
                settings: proxySettings, pools: fakeIP.pools,
                resolver: NameResolver(pipeline: resolving, timeout: config.queryTimeout), group: group,
                logger: logger)
        } else {
            self.proxy = nil
        }
        let queryMetrics = config.admin.map { _ in QueryMetrics() }
        self.queryMetrics = queryMetrics
        let queryLog = try config.queryLog.map { settings in
            do {
                return try QueryLog(path: settings.path, maxSize: settings.maxSize, keep: settings.keep)
            } catch {
                throw ConfigError(key: "query_log.path", value: settings.path ?? "-", allowed: "a writable file (\(error))")
            }
        }
        self.queryLog = queryLog
        self.queryLogWriter = queryLog.map { log in Task { await log.run() } }
        let observers = [queryMetrics as (any QueryObserver)?, queryLog as (any QueryObserver)?].compactMap { $0 }
        self.pipeline = observers.isEmpty ? answering : ObservedHandler(answering, observers: observers)
        let certificate = try config.listenerCertificate.map { files in
            do {
                return try ServerTLSContext(certificateFile: files.certificate, keyFile: files.key, logger: logger)
            } catch {
                throw ConfigError(key: "tls.cert_file", value: files.certificate,
                                  allowed: "a PEM certificate chain matching the key in \(files.key) (\(error))")
            }
        }
        self.listenerCertificate = certificate
        self.certificateWatch = certificate.map { certificate in Task { await certificate.watch() } }
        self.frontend = DNSFrontend(
            configuration: FrontendConfiguration(
                listen: config.listeners,
                tls: certificate,
                queryTimeout: config.queryTimeout,
                tcpIdleTimeout: config.tcpIdleTimeout,
                maxTCPConnections: config.tcpMaxConnections,
                maxTCPConnectionsPerClient: config.tcpMaxConnectionsPerClient,
                maxTCPQueriesPerConnection: config.tcpMaxQueriesPerConnection),
            pipeline: self.pipeline, group: group, logger: logger)
        if let blocklists { self.blocklists.withLock { $0 = (blocklists, self.refreshing(blocklists)) } }
    }

    /// The upstreams queries go to now.
    var upstream: any Upstream { self.path.withLock { $0.upstream } }

    /// The cache queries use now.
    var cache: DNSResponseCache? { self.path.withLock { $0.cache } }

    /// Cache, then upstreams: what every query ends in.
    private static func resolvingPipeline(_ path: QueryPath, redis: RedisClient?, group: any EventLoopGroup,
                                          logger: Logger) -> any DNSHandler {
        var stages: [any DNSMiddleware] = []
        if let cache = path.cache {
            let shared = redis.map { SharedAnswers(tier: RedisCacheTier(client: $0), budget: path.config.cacheRedisTimeout) }
            stages.append(CacheMiddleware(cache: cache, group: group, shared: shared,
                                          refreshTimeout: path.config.queryTimeout))
        }
        return DNSPipeline(middlewares: stages, terminal: ForwardingHandler(upstream: path.upstream, logger: logger))
    }

    /// Access control, rate limit, minimal ANY answers, local records, blocklists and the fake-IP stage (those
    /// that are on) in front of `resolving`.
    private static func answeringPipeline(_ config: DNSGateConfig, fakeIP: FakeIPPersistence?,
                                          blocking: BlockingPolicy?, rateLimiter: ClientRateLimiter?,
                                          resolving: ReloadableHandler) -> any DNSHandler {
        var stages: [any DNSMiddleware] = [AccessControlMiddleware(control: config.accessControl,
                                                                   listenerControls: config.listenerAccess)]
        if let rateLimiter { stages.append(RateLimitMiddleware(limiter: rateLimiter)) }
        if config.minimalANY { stages.append(MinimalANYMiddleware()) }
        if let records = config.localRecords { stages.append(LocalRecordsMiddleware(records: records)) }
        if let blocking { stages.append(BlockingMiddleware(policy: blocking)) }
        if let fakeIP, let settings = config.fakeIP, let pool4 = fakeIP.pools.first {
            stages.append(FakeIPMiddleware(pool4: pool4, pool6: fakeIP.pools.dropFirst().first,
                                           settings: settings.answer))
        }
        return DNSPipeline(middlewares: stages, terminal: resolving)
    }

    /// Starts refreshing `loader`'s lists; each new policy gets a new pipeline.
    private func refreshing(_ loader: BlocklistLoader) -> Task<Void, Never> {
        loader.onUpdate { [weak self] _ in self?.rebuildAnswering() }
        return Task { await loader.run() }
    }

    /// The blocklists for `settings`: the running ones, their files read again, when the settings are unchanged;
    /// else new ones (the old refresher stopped).
    private func blocklists(for settings: BlockingSettings?) -> BlockingPolicy? {
        let (running, stale) = self.blocklists.withLock { current -> (BlocklistLoader?, Task<Void, Never>?) in
            if let running = current, running.loader.settings == settings { return (running.loader, nil) }
            let stale = current?.refresher
            current = nil
            return (nil, stale)
        }
        stale?.cancel()
        if let running {
            running.refresh()
            return running.policy
        }
        guard let settings else { return nil }
        let loader = BlocklistLoader(settings: settings, logger: self.logger)
        self.blocklists.withLock { $0 = (loader, self.refreshing(loader)) }
        return loader.policy
    }

    /// The running rate limiter when `settings` are its own, else a new one (nil when rate limiting is off).
    private func rateLimiter(for settings: RateLimitSettings?) -> ClientRateLimiter? {
        self.rateLimiter.withLock { current in
            if current?.settings != settings { current = settings.map(ClientRateLimiter.init(settings:)) }
            return current
        }
    }

    /// A new answering pipeline from the configuration in force and the blocklists as they are now.
    private func rebuildAnswering() {
        let config = self.path.withLock { $0.config }
        let policy = self.blocklists.withLock { $0?.loader.policy }
        self.answering.replace(with: Self.answeringPipeline(config, fakeIP: self.fakeIP, blocking: policy,
                                                            rateLimiter: self.rateLimiter(for: config.rateLimit),
                                                            resolving: self.resolving),
                               deadlineShift: config.queryTimeout - self.frontend.queryTimeout)
    }

    func replace(upstream: any Upstream, config: DNSGateConfig) -> any Upstream {
        let previous = self.path.withLock { $0 }
        var cache = previous.cache
        if let old = cache, let policy = config.cache, policy != old.policy {
            // New limits: a new cache, filled with what the old one holds (aged as a warm restart would).
            let resized = DNSResponseCache(policy: policy)
            _ = try? resized.restore(old.saved())
            cache = resized
        }
        let path = QueryPath(upstream: upstream, cache: cache, config: config)
        let shift = config.queryTimeout - self.frontend.queryTimeout
        self.resolving.replace(with: Self.resolvingPipeline(path, redis: self.redis, group: self.group,
                                                            logger: self.logger))
        self.answering.replace(with: Self.answeringPipeline(config, fakeIP: self.fakeIP,
                                                            blocking: self.blocklists(for: config.blocking),
                                                            rateLimiter: self.rateLimiter(for: config.rateLimit),
                                                            resolving: self.resolving),
                               deadlineShift: shift)
        self.path.withLock { $0 = path }
        return previous.upstream
    }

    /// Stops the proxy and the listeners (letting queries in flight finish within `gracePeriod`), then the
    /// upstreams and Redis, and saves the cache if configured.
    func stop(gracePeriod: TimeAmount) async {
        self.blocklists.withLock { $0?.refresher.cancel() }
        self.certificateWatch?.cancel()
        await self.proxy?.shutdown()
        await self.frontend.shutdown(gracePeriod: gracePeriod)
        self.queryLogWriter?.cancel()
        await self.queryLogWriter?.value
        await self.upstream.shutdown()
        await self.redis?.shutdown()
        if let cache = self.cache { self.savedCache?.save(cache) }
    }
}
