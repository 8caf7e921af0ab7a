import Admin
import Config
import DNSCore
import Foundation
import Logging
import NIOCore
import Synchronization

/// What operators look at: the query counters behind `/metrics`, the query log and its writer, and the admin
/// listener (metrics, health, API, dashboard) with its token, which a reload may change.
final class ObservabilitySubsystem: Sendable {
    /// The answered queries' counters, or nil when the admin listener (and with it metrics) is off.
    let queryMetrics: QueryMetrics?
    /// The query log, when on.
    let queryLog: QueryLog?
    private let logger: Logger
    private let admin = Mutex<(server: AdminServer, backend: DNSGateAdminBackend, token: AdminToken)?>(nil)

    /// Opens the query log, if configured.
    init(config: DNSGateConfig, logger: Logger) throws {
        self.logger = logger
        self.queryMetrics = config.admin.map { _ in QueryMetrics() }
        self.queryLog = try config.queryLog.map { settings in
            do {
                return try QueryLog(path: settings.path, maxSize: settings.maxSize, keep: settings.keep)
            } catch {
                throw ConfigError(key: "query_log.path", value: settings.path ?? "-", allowed: "a writable file (\(error))")
            }
        }
    }

    /// Who sees every answered query.
    var observers: [any QueryObserver] {
        [self.queryMetrics as (any QueryObserver)?, self.queryLog as (any QueryObserver)?].compactMap { $0 }
    }

    /// Starts the admin listener, if configured. When the default address is taken (another instance on the same
    /// host), dnsgate warns and runs without it; an address the user chose that cannot be bound stops start-up.
    func startAdmin(_ config: DNSGateConfig, sources: @Sendable (QueryMetrics) -> MetricSources,
                    configuration: @escaping @Sendable () -> DNSGateConfig,
                    reload: @escaping @Sendable () async throws -> String, probeLoop: any EventLoop) async throws {
        guard let settings = config.admin, let queryMetrics = self.queryMetrics else { return }
        let backend = DNSGateAdminBackend(
            sources: sources(queryMetrics), configuration: configuration, probeLoop: probeLoop,
            readinessWindow: settings.readinessProbeInterval, reloader: reload)
        let token = AdminToken(settings.token)
        let server = AdminServer(settings: .init(address: settings.address, token: token), backend: backend,
                                 logger: self.logger)
        do {
            let bound = try await server.start()
            self.logger.notice("admin listener", metadata: ["address": "\(bound.hostAndPort)"])
            self.admin.withLock { $0 = (server, backend, token) }
        } catch let error as AdminError where error.isAddressInUse && settings.isDefaultAddress {
            self.logger.warning("the default admin address is taken: running without metrics and the admin API", metadata: [
                "address": "\(settings.address.hostAndPort)", "error": "\(error)",
            ])
        }
    }

    /// Says whether every listener serves, for `/readyz`.
    func setServing(_ serving: Bool) {
        self.admin.withLock { $0 }?.backend.setServing(serving)
    }

    /// Applies `config`'s admin token (`admin.token`, `admin.token_file`).
    func reload(_ config: DNSGateConfig) {
        guard let settings = config.admin else { return }
        self.admin.withLock { $0 }?.token.replace(with: settings.token)
    }

    /// Writes the query log every 100 ms until shutdown, then what is left.
    var queryLogService: LifecycleService {
        let loop: (@Sendable () async -> Void)? = self.queryLog.map { log in { @Sendable in await log.run() } }
        return LifecycleService("query log", loop: loop)
    }

    /// Stops the admin listener: last but for the fake-IP writer, so that metrics are scraped while queries drain.
    var adminService: LifecycleService {
        LifecycleService("admin listener", stop: { [self] in await self.abandon() })
    }

    /// Stops the admin listener (also when start-up fails half-way).
    func abandon() async {
        await self.admin.withLock { $0 }?.server.stop()
    }
}
