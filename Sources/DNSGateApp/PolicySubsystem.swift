import Config
import DNSCore
import DNSPolicy
import Logging
import Synchronization

/// The edge policy in front of the cache: access control, the rate limiter (whose buckets outlive reloads and
/// blocklist refreshes while its settings stay the same, so a swap hands a flooder no fresh burst), minimal ANY
/// answers, local records and the blocklists, whose refresher runs as a service of its own.
final class PolicySubsystem: Sendable {
    private let logger: Logger
    private let rateLimiter: Mutex<ClientRateLimiter?>
    private let blocklists: Mutex<BlocklistLoader?>
    /// Each loader in use, for the refresher: a new one replaces the running one.
    private let loaders: AsyncStream<BlocklistLoader?>
    private let loaderUpdates: AsyncStream<BlocklistLoader?>.Continuation
    /// Called when refreshed blocklists make a new policy.
    private let changed = Mutex<(@Sendable () -> Void)?>(nil)

    /// Reads the blocklist files now (URLs are fetched by ``refresher``).
    init(config: DNSGateConfig, logger: Logger) {
        self.logger = logger
        self.rateLimiter = Mutex(config.rateLimit.map(ClientRateLimiter.init(settings:)))
        (self.loaders, self.loaderUpdates) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
        let loader = config.blocking.map { BlocklistLoader(settings: $0, logger: logger) }
        self.blocklists = Mutex(loader)
        loader?.onUpdate { [weak self] _ in self?.blocklistsChanged() }
        self.loaderUpdates.yield(loader)
    }

    /// Calls `handler` whenever refreshed blocklists make a new policy (to build a pipeline around it).
    func onChange(_ handler: @escaping @Sendable () -> Void) {
        self.changed.withLock { $0 = handler }
    }

    /// The deciding stages for `config`, in pipeline order: access control, rate limit, ANY, local records, blocklists.
    func middlewares(for config: DNSGateConfig) -> [any DNSMiddleware] {
        var stages: [any DNSMiddleware] = [AccessControlMiddleware(control: config.accessControl,
                                                                   listenerControls: config.listenerAccess)]
        if let rateLimiter = self.rateLimiter(for: config.rateLimit) {
            stages.append(RateLimitMiddleware(limiter: rateLimiter))
        }
        if config.minimalANY { stages.append(MinimalANYMiddleware()) }
        if let records = config.localRecords { stages.append(LocalRecordsMiddleware(records: records)) }
        if let policy = self.blocklists.withLock({ $0?.policy }) { stages.append(BlockingMiddleware(policy: policy)) }
        return stages
    }

    /// Takes `config`'s blocklists: the running ones, their files read again, when the settings are unchanged; else
    /// new ones, which the refresher runs from now on.
    func reload(_ config: DNSGateConfig) {
        // Reading the files publishes a new policy, which rebuilds the pipeline: outside the lock.
        if let running = self.blocklists.withLock({ $0 }), running.settings == config.blocking {
            running.refresh()
            return
        }
        let loader = config.blocking.map { BlocklistLoader(settings: $0, logger: self.logger) }
        loader?.onUpdate { [weak self] _ in self?.blocklistsChanged() }
        self.blocklists.withLock { $0 = loader }
        self.loaderUpdates.yield(loader)
    }

    /// Runs the blocklists' refreshes (URL fetches, then every refresh interval) until shutdown, moving to each
    /// new loader a reload brings.
    var refresher: LifecycleService {
        LifecycleService("blocklist refresher", loop: { [loaders = self.loaders] in
            // One loader runs at a time; the loop owns it and stops it when a new one comes, and at shutdown.
            var running: Task<Void, Never>?
            for await loader in loaders {
                running?.cancel()
                running = loader.map { loader in Task { await loader.run() } }
            }
            running?.cancel()
            await running?.value
        })
    }

    private func blocklistsChanged() {
        self.changed.withLock { $0 }?()
    }

    /// The running rate limiter when `settings` are its own, else a new one (nil when rate limiting is off).
    private func rateLimiter(for settings: RateLimitSettings?) -> ClientRateLimiter? {
        self.rateLimiter.withLock { current in
            if current?.settings != settings { current = settings.map(ClientRateLimiter.init(settings:)) }
            return current
        }
    }
}
