import Config
import DNSCache
import DNSCore
import DNSFrontend
import DNSUpstream
import FakeIP
import Logging
import NIOCore
import RedisTier
import TransparentProxy

/// What a ``DNSGateConfig`` builds, wired together but not yet listening: upstreams, the optional Redis tier, cache
/// and fake-IP stores, the query pipeline, the transparent proxy and the listeners. ``stop(gracePeriod:)`` takes
/// them down in the reverse order of the traffic: listeners first, so no query is cut off by a closed upstream.
struct DNSGateComponents {
    let upstream: any Upstream
    let redis: RedisClient?
    let fakeIP: FakeIPPersistence?
    let cache: DNSResponseCache?
    let savedCache: SavedCacheFile?
    /// Fake-IP stage (if on), cache, upstreams: what the listeners and the TUN responder answer with, every answer
    /// counted in `queryMetrics` when metrics are on.
    let pipeline: any DNSHandler
    /// The answered queries' counters, or nil when the admin listener (and with it metrics) is off.
    let queryMetrics: QueryMetrics?
    let proxy: TransparentProxyServer?
    let frontend: DNSFrontend

    init(config: DNSGateConfig, group: any EventLoopGroup, logger: Logger) throws {
        self.upstream = try DNSGateService.makeUpstream(config, group: group, logger: logger)
        self.redis = config.cache == nil ? nil : config.cacheRedis.map {
            RedisClient(url: $0, group: group, connectTimeout: config.upstreamConnectTimeout, logger: logger)
        }
        self.fakeIP = try config.fakeIP.map { try DNSGateService.openFakeIP($0) }
        self.cache = config.cache.map { DNSResponseCache(policy: $0) }
        self.savedCache = config.cacheSaveFile.map { SavedCacheFile(path: $0, logger: logger) }
        // Cache, then upstreams: what every query ends in, and how the transparent proxy finds real addresses.
        var resolvingStages: [any DNSMiddleware] = []
        if let cache = self.cache {
            self.savedCache?.load(into: cache)
            let shared = self.redis.map { SharedAnswers(tier: RedisCacheTier(client: $0), budget: config.cacheRedisTimeout) }
            resolvingStages.append(CacheMiddleware(cache: cache, group: group, shared: shared,
                                                   refreshTimeout: config.queryTimeout))
        }
        let resolving = DNSPipeline(middlewares: resolvingStages,
                                    terminal: ForwardingHandler(upstream: self.upstream, logger: logger))
        var pipeline = resolving
        var proxy: TransparentProxyServer?
        if let fakeIP = self.fakeIP, let settings = config.fakeIP, let pool4 = fakeIP.pools.first {
            let stage = FakeIPMiddleware(pool4: pool4, pool6: fakeIP.pools.dropFirst().first, settings: settings.answer)
            pipeline = DNSPipeline(middlewares: [stage], terminal: resolving)
            proxy = settings.proxy.map {
                TransparentProxyServer(settings: $0, pools: fakeIP.pools,
                                       resolver: NameResolver(pipeline: resolving, timeout: config.queryTimeout),
                                       group: group, logger: logger)
            }
        }
        let queryMetrics = config.admin.map { _ in QueryMetrics() }
        self.queryMetrics = queryMetrics
        self.pipeline = queryMetrics.map { MeasuredHandler(pipeline, metrics: $0) } ?? pipeline
        self.proxy = proxy
        self.frontend = DNSFrontend(
            configuration: FrontendConfiguration(
                listen: config.listen,
                queryTimeout: config.queryTimeout,
                tcpIdleTimeout: config.tcpIdleTimeout,
                maxTCPConnections: config.tcpMaxConnections,
                maxTCPQueriesPerConnection: config.tcpMaxQueriesPerConnection),
            pipeline: self.pipeline, group: group, logger: logger)
    }

    /// Stops the proxy and the listeners (letting queries in flight finish within `gracePeriod`), then the
    /// upstreams and Redis, and saves the cache if configured.
    func stop(gracePeriod: TimeAmount) async {
        await self.proxy?.shutdown()
        await self.frontend.shutdown(gracePeriod: gracePeriod)
        await self.upstream.shutdown()
        await self.redis?.shutdown()
        if let cache = self.cache { self.savedCache?.save(cache) }
    }
}
