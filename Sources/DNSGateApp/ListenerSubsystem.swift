import Config
import DNSCore
import DNSFrontend
import Logging
import NIOCore

/// The listeners (plain DNS, DoT, DoH) and the certificate of the encrypted ones, whose files are watched by a
/// service of its own; a reload opens and closes addresses, and shutdown drains the connections within the grace
/// period.
final class ListenerSubsystem: Sendable {
    let frontend: DNSFrontend
    /// The DoT and DoH listeners' certificate, when there are such listeners.
    private let certificate: ServerTLSContext?
    private let gracePeriod: TimeAmount

    init(config: DNSGateConfig, pipeline: any DNSHandler, group: any EventLoopGroup, logger: Logger) throws {
        self.certificate = try config.listenerCertificate.map { files in
            do {
                return try ServerTLSContext(certificateFile: files.certificate, keyFile: files.key, logger: logger)
            } catch {
                throw ConfigError(key: "tls.cert_file", value: files.certificate,
                                  allowed: "a PEM certificate chain matching the key in \(files.key) (\(error))")
            }
        }
        self.gracePeriod = config.shutdownGracePeriod
        self.frontend = DNSFrontend(
            configuration: FrontendConfiguration(
                listen: config.listeners,
                tls: self.certificate,
                queryTimeout: config.queryTimeout,
                tcpIdleTimeout: config.tcpIdleTimeout,
                maxTCPConnections: config.tcpMaxConnections,
                maxTCPConnectionsPerClient: config.tcpMaxConnectionsPerClient,
                maxTCPQueriesPerConnection: config.tcpMaxQueriesPerConnection),
            pipeline: pipeline, group: group, logger: logger)
    }

    /// Opens every listener; throws naming the address that could not be bound.
    func start() async throws {
        try await self.frontend.start()
    }

    /// Listens on `config`'s addresses (throwing, with nothing changed, when one cannot be bound) and reads the
    /// certificate again if its files changed.
    func reload(_ config: DNSGateConfig) async throws {
        try await self.frontend.listen(on: config.listeners)
        self.certificate?.reloadIfChanged()
    }

    /// Watches the certificate's files until shutdown.
    var certificateService: LifecycleService {
        let loop: (@Sendable () async -> Void)? = self.certificate.map { certificate in
            { @Sendable in await certificate.watch() }
        }
        return LifecycleService("certificate watch", loop: loop)
    }

    /// Drains the listeners at shutdown: no new queries, those in flight answered within the grace period.
    var drainService: LifecycleService {
        LifecycleService("listeners", stop: { [frontend = self.frontend, grace = self.gracePeriod] in
            await frontend.shutdown(gracePeriod: grace)
        })
    }
}
