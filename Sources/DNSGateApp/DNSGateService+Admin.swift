import Admin
import Config
import DNSCore
import DNSUpstream
import FakeIP
import Foundation
import Logging
import NIOCore
import Synchronization
import TransparentProxy
import TUNResponder


/// The admin listener while it runs, with the backend whose readiness the service sets.
struct RunningAdmin {
    let server: AdminServer
    let backend: DNSGateAdminBackend
}

extension DNSGateService {
    /// The dnsgate version, as `dnsgate version` and `dnsgate_build_info` report it.
    public static let version = "0.1.0"

    /// Starts the admin listener, if configured. When the default address is taken (another instance on the same
    /// host), dnsgate warns and runs without it; an address the user chose that cannot be bound stops start-up.
    func startAdmin(_ parts: DNSGateComponents, tun: RunningTUN?, group: any EventLoopGroup,
                    reloader: ConfigurationReloader) async throws -> RunningAdmin?
    {
        guard let settings = self.config.admin, let queryMetrics = parts.queryMetrics else { return nil }
        let sources = MetricSources(
            version: Self.version, started: Date(), queries: queryMetrics, currentCache: { parts.cache },
            currentUpstreams: { parts.upstream.resolvers }, tun: tun?.counters,
            fakeIPPools: parts.fakeIP?.pools ?? [], proxy: parts.proxy?.statistics, queryLog: parts.queryLog)
        let backend = DNSGateAdminBackend(
            sources: sources, configuration: { reloader.current.withLock { $0 } }, probeLoop: group.next(),
            readinessWindow: settings.readinessProbeInterval, reloader: { try await reloader.reload() })
        let token = AdminToken(settings.token)
        await reloader.attach(token)
        let server = AdminServer(settings: .init(address: settings.address, token: token), backend: backend,
                                 logger: self.logger)
        do {
            let bound = try await server.start()
            self.logger.notice("admin listener", metadata: ["address": "\(bound.hostAndPort)"])
            return RunningAdmin(server: server, backend: backend)
        } catch let error as AdminError where error.isAddressInUse && settings.isDefaultAddress {
            self.logger.warning("the default admin address is taken: running without metrics and the admin API", metadata: [
                "address": "\(settings.address.hostAndPort)", "error": "\(error)",
            ])
            return nil
        }
    }
}
