public import Config
import Admin
import DNSCore
import DNSFrontend
import DNSUpstream
import DNSWire
import FakeIP
import TransparentProxy
public import Logging
import NIOCore
import NIOPosix
import UpstreamTLS
import RedisTier
import TUNResponder
public import ServiceLifecycle
import UnixSignals

/// The running proxy: event loops, upstreams, pipeline and listeners built from a ``DNSGateConfig``. Runs until a
/// graceful shutdown, then stops accepting, lets queries in flight finish within the grace period, and closes.
public struct DNSGateService: Service, CustomStringConvertible {
    public let config: DNSGateConfig
    let logger: Logger
    /// Reads the configuration again, for a reload.
    let loadConfiguration: @Sendable () async throws -> DNSGateConfig

    /// - Parameter loadConfiguration: reads the configuration again (file, environment, flags) on SIGHUP or
    ///   `POST /api/v1/reload`.
    public init(config: DNSGateConfig, logger: Logger,
                loadConfiguration: @escaping @Sendable () async throws -> DNSGateConfig) {
        self.config = config
        self.logger = logger
        self.loadConfiguration = loadConfiguration
    }

    /// How service-lifecycle names the service in its logs (the default would reflect over the whole
    /// configuration, which is long and, for some of its value types, crashes the runtime's reflection).
    public var description: String { "DNSGateService" }

    public func run() async throws {
        let threads = self.config.threads == 0 ? Self.automaticThreadCount : self.config.threads
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        do {
            try await self.serve(on: group)
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

    private func serve(on group: MultiThreadedEventLoopGroup) async throws {
        let parts = try DNSGateComponents(config: self.config, group: group, logger: self.logger)
        let reloader = ConfigurationReloader(config: self.config, load: self.loadConfiguration, components: parts,
                                             logger: self.logger)
        var tun: RunningTUN?
        var admin: RunningAdmin?
        do {
            try await parts.frontend.start()
            tun = try self.config.tun.map { try self.startTUN($0, pipeline: parts.pipeline, group: group) }
            if let tun { await reloader.attach(tun) }
            try await parts.proxy?.start()
            admin = try await self.startAdmin(parts, tun: tun, group: group, reloader: reloader)
        } catch {
            tun?.device.close()
            await admin?.server.stop()
            await parts.stop(gracePeriod: .zero)
            throw error
        }
        admin?.backend.setServing(true)
        self.logger.notice("dnsgate started", metadata: [
            "threads": "\(group.makeIterator().map { _ in 1 }.count)",
            "upstreams": "\(parts.upstream.description)",
            "sharedCache": "\(parts.redis.map { "\($0.url)" } ?? "none")",
        ])
        let logger = self.logger
        let reloads = Task {
            for await _ in await UnixSignalsSequence(trapping: .sighup) { _ = try? await reloader.reload() }
        }
        let flusher = parts.fakeIP.map { persistence in
            Task { await persistence.run { logger.error("fake-IP database write failed", metadata: ["error": "\($0)"]) } }
        }
        try? await gracefulShutdown()
        self.logger.notice("shutting down", metadata: ["gracePeriod": "\(self.config.shutdownGracePeriod)"])
        reloads.cancel()
        admin?.backend.setServing(false)
        tun?.device.close()
        await parts.stop(gracePeriod: self.config.shutdownGracePeriod)
        flusher?.cancel()
        await flusher?.value
        do {
            try await parts.fakeIP?.flush()
        } catch {
            self.logger.error("fake-IP database write failed", metadata: ["error": "\(error)"])
        }
        await admin?.server.stop()
        self.logger.notice("dnsgate stopped")
    }

    /// Opens the fake-IP database and restores the pools (IPv4 first, then IPv6 if configured).
    static func openFakeIP(_ settings: FakeIPSettings) throws -> FakeIPPersistence {
        let pools = ([settings.range] + (settings.range6.map { [$0] } ?? [])).map { FakeIPPool(range: $0) }
        return try FakeIPPersistence(store: try FakeIPStore(path: settings.database), pools: pools)
    }

    /// Opens the TUN device and answers the virtual addresses on it through `pipeline`; everything else that
    /// arrives on the device is counted and dropped.
    private func startTUN(_ settings: TUNSettings, pipeline: any DNSHandler, group: any EventLoopGroup) throws
        -> RunningTUN
    {
        let device = try TUNDevice(name: settings.name, mtu: settings.mtu,
                                   addresses: settings.deviceAddresses,
                                   routes: settings.addresses.map(IPPrefix.host))
        let responder = DNSPacketResponder(pipeline: pipeline, eventLoop: group.next(), mtu: settings.mtu,
                                           output: device, queryTimeout: self.config.queryTimeout,
                                           maxTCPConnections: settings.maxTCPConnections,
                                           tcpIdleTimeout: self.config.tcpIdleTimeout)
        let filter = PacketFilter(passThrough: DiscardSink())
        for address in settings.addresses { filter.add(.host(address), sink: responder) }
        device.startReading(into: filter)
        self.logger.notice("virtual DNS on TUN device", metadata: [
            "device": "\(device.name)", "mtu": "\(settings.mtu)",
            "addresses": "\(settings.addresses.map(\.description).joined(separator: ", "))",
        ])
        return RunningTUN(device: device, filter: filter, responder: responder, addresses: settings.addresses,
                          logger: self.logger)
    }

    /// The configured upstreams behind their selection policy.
    static func makeUpstream(_ config: DNSGateConfig, group: any EventLoopGroup, logger: Logger) throws
        -> any Upstream
    {
        for path in config.caFiles {
            do {
                _ = try TLSClientContext(configuration: TLSClientConfiguration(additionalTrustAnchorFiles: [path]))
            } catch {
                throw ConfigError(key: "tls.ca_files", value: path, allowed: "a readable PEM certificate file (\(error))")
            }
        }
        let options = UpstreamConnectionOptions(
            connectTimeout: config.upstreamConnectTimeout,
            idleTimeout: config.upstreamIdleTimeout,
            maxInFlight: config.upstreamMaxInFlight,
            spreadThreshold: config.upstreamQueriesPerConnection)
        let selection = config.upstreamSelection
        let bootstrap = try Self.makeBootstrap(config, group: group, options: options, logger: logger)
        func makeGroup(_ specs: [UpstreamSpec], policy: SelectionPolicy) throws -> UpstreamGroup {
            let upstreams = try specs.map { spec in
                try ResolverUpstream(address: spec.address, group: group, trustAnchorFiles: config.caFiles,
                                     options: options,
                                     connectionsPerLoop: config.upstreamConnectionsPerThread, health: selection.health,
                                     httpGET: spec.usesGET, padsQueries: spec.padsQueries,
                                     authentication: spec.authentication,
                                     resumesTLSSessions: spec.resumesTLSSessions, bootstrap: bootstrap, logger: logger)
            }
            return UpstreamGroup(members: upstreams, policy: policy, weights: specs.map(\.weight),
                                 attemptTimeout: config.upstreamAttemptTimeout, hedging: selection.hedging,
                                 healthCheck: selection.check, bootstrap: bootstrap, eventLoop: group.next())
        }
        let fallback = try makeGroup(config.upstreams, policy: selection.policy)
        guard !config.forwarding.isEmpty else { return fallback }
        var rules: [DNSName: any Upstream] = [:]
        for rule in config.forwarding { rules[rule.domain] = try makeGroup(rule.upstreams, policy: rule.policy) }
        return ConditionalUpstream(rules: rules, fallback: fallback)
    }
}

extension DNSGateService {
    /// The resolver of upstream host names through the `bootstrap` servers, or nil when there are none (or no
    /// upstream is given by name).
    static func makeBootstrap(_ config: DNSGateConfig, group: any EventLoopGroup, options: UpstreamConnectionOptions,
                              logger: Logger) throws -> BootstrapResolver? {
        let named = (config.upstreams + config.forwarding.flatMap(\.upstreams)).filter { !$0.address.hostIsIPLiteral }
        guard !named.isEmpty else { return nil }
        guard !config.bootstrap.isEmpty else {
            logger.notice("upstream host names are resolved by the system resolver; set bootstrap if that is dnsgate itself",
                          metadata: ["upstreams": "\(named.map(\.address.host).joined(separator: ", "))"])
            return nil
        }
        let servers = try config.bootstrap.map {
            try ResolverUpstream(address: $0, group: group, options: options, logger: logger)
        }
        return BootstrapResolver(servers: UpstreamGroup(members: servers, policy: .sequential,
                                                        attemptTimeout: config.upstreamAttemptTimeout,
                                                        eventLoop: group.next()),
                                 timeout: config.upstreamAttemptTimeout * Int64(servers.count))
    }
}

/// Runs dnsgate's services until SIGTERM or SIGINT.
public enum DNSGateApp {
    /// Runs dnsgate until SIGTERM or SIGINT; SIGHUP re-reads the configuration with `loadConfiguration`.
    public static func run(config: DNSGateConfig, logger: Logger,
                           loadConfiguration: @escaping @Sendable () async throws -> DNSGateConfig) async throws {
        let group = ServiceGroup(configuration: .init(
            services: [DNSGateService(config: config, logger: logger, loadConfiguration: loadConfiguration)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
    }
}
