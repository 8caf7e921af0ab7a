public import Config
import DNSCore
import DNSFrontend
import DNSUpstream
import FakeIP
import Foundation
public import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import UnixSignals

/// A running dnsgate: the subsystems built from a ``DNSGateConfig`` in the order each needs the others (upstreams,
/// interception's fake-IP mapping, observability, policy, the answering pipeline, listeners), and the services that
/// run their loops and stop them. The service list is the shutdown order, read backwards: readiness goes first,
/// then reloads, the ways in (TUN, proxy, listeners), the loops behind them, the query path, and the fake-IP
/// writer last.
final class Gateway: Sendable {
    /// The dnsgate version, as `dnsgate version` and `dnsgate_build_info` report it.
    static let version = "0.1.0"

    private let upstreams: UpstreamSubsystem
    private let interception: InterceptionSubsystem
    private let observability: ObservabilitySubsystem
    private let policy: PolicySubsystem
    private let answering: AnsweringSubsystem
    private let listeners: ListenerSubsystem
    private let reloader: ConfigurationReloader
    private let gracePeriod: TimeAmount
    private let logger: Logger

    /// Builds and starts everything `config` asks for; what was started is stopped again when a step fails.
    init(config: DNSGateConfig, loadConfiguration: @escaping @Sendable () async throws -> DNSGateConfig,
         group: any EventLoopGroup, logger: Logger) async throws {
        self.logger = logger
        self.gracePeriod = config.shutdownGracePeriod
        self.upstreams = try UpstreamSubsystem(config: config, group: group, logger: logger)
        self.interception = try InterceptionSubsystem(config: config, logger: logger)
        self.observability = try ObservabilitySubsystem(config: config, logger: logger)
        self.policy = PolicySubsystem(config: config, logger: logger)
        self.answering = try AnsweringSubsystem(config: config, upstreams: self.upstreams, policy: self.policy,
                                            fakeIP: self.interception.fakeIP,
                                            observers: self.observability.observers, group: group, logger: logger)
        self.listeners = try ListenerSubsystem(config: config, pipeline: self.answering.pipeline, group: group,
                                               logger: logger)
        self.reloader = ConfigurationReloader(
            config: config, load: loadConfiguration, upstreams: self.upstreams, policy: self.policy,
            answering: self.answering, listeners: self.listeners, interception: self.interception,
            observability: self.observability, logger: logger)
        do {
            try await self.listeners.start()
            try await self.interception.start(config, pipeline: self.answering.pipeline,
                                              resolving: self.answering.resolving, group: group)
            try await self.startAdmin(config, group: group)
        } catch {
            await self.observability.abandon()
            await self.interception.abandon()
            await self.listeners.frontend.shutdown(gracePeriod: .zero)
            await self.answering.stop()
            await self.upstreams.stop()
            throw error
        }
        self.observability.setServing(true)
        logger.notice("dnsgate started", metadata: [
            "threads": "\(group.makeIterator().map { _ in 1 }.count)",
            "upstreams": "\(self.upstreams.current.description)",
            "sharedCache": "\(self.answering.sharedCache)",
        ])
    }

    private func startAdmin(_ config: DNSGateConfig, group: any EventLoopGroup) async throws {
        let (answering, upstreams, interception, queryLog) =
            (self.answering, self.upstreams, self.interception, self.observability.queryLog)
        let reloader = self.reloader
        try await self.observability.startAdmin(
            config,
            sources: { queries in
                MetricSources(version: Self.version, started: Date(), queries: queries,
                              currentCache: { answering.cache }, currentUpstreams: { upstreams.current.resolvers },
                              tun: interception.tunCounters, fakeIPPools: interception.fakeIP?.pools ?? [],
                              proxy: interception.proxyStatistics, queryLog: queryLog,
                              dnssec: { answering.validating ? answering.validation : nil })
            },
            configuration: { reloader.current.withLock { $0 } },
            reload: { try await reloader.reload() }, probeLoop: group.next())
    }

    /// Every long-running part, in start order; the group stops them in reverse.
    var services: [any Service] {
        [
            self.interception.persistenceService,
            self.observability.adminService,
            LifecycleService("upstreams", stop: { [upstreams = self.upstreams] in await upstreams.stop() }),
            LifecycleService("cache", stop: { [answering = self.answering] in await answering.stop() }),
            self.observability.queryLogService,
            self.policy.refresher,
            self.listeners.certificateService,
            self.listeners.drainService,
            self.interception.proxyService,
            self.interception.tunService,
            LifecycleService("reload on SIGHUP", loop: { [reloader = self.reloader] in
                for await _ in await UnixSignalsSequence(trapping: .sighup) { _ = try? await reloader.reload() }
            }),
            // First to stop: `/readyz` says "not ready" as soon as shutdown begins.
            LifecycleService("readiness", stop: { [observability = self.observability, logger = self.logger,
                                                   grace = self.gracePeriod] in
                logger.notice("shutting down", metadata: ["gracePeriod": "\(grace)"])
                observability.setServing(false)
            }),
        ]
    }
}

/// Runs dnsgate's services until SIGTERM or SIGINT.
public enum DNSGateApp {
    /// The dnsgate version.
    public static var version: String { Gateway.version }

    /// Runs dnsgate until SIGTERM or SIGINT, which stop accepting, let queries in flight finish within the grace
    /// period, and close; SIGHUP re-reads the configuration with `loadConfiguration`.
    public static func run(config: DNSGateConfig, logger: Logger,
                           loadConfiguration: @escaping @Sendable () async throws -> DNSGateConfig) async throws {
        let threads = config.threads == 0 ? Self.automaticThreadCount : config.threads
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        do {
            let gateway = try await Gateway(config: config, loadConfiguration: loadConfiguration, group: group,
                                            logger: logger)
            let services = ServiceGroup(configuration: .init(
                services: gateway.services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await services.run()
            logger.notice("dnsgate stopped")
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try await group.shutdownGracefully()
    }

    /// Half the cores, at least one. A forwarder's cost per query is mostly system calls, so it is cheapest when
    /// each loop batches many queries per call and one upstream connection carries many queries per TLS record;
    /// more loops than that split the batches and compete with the kernel's network processing (measured on 2
    /// cores: 1 loop forwarded DoT misses at 20-31 µs of CPU per query, 2 loops at 38-52 µs).
    static var automaticThreadCount: Int { max(1, System.coreCount / 2) }
}
