import Config
import DNSCore
import FakeIP
import Logging
import NIOCore
import Synchronization
import TransparentProxy
import TUNResponder

/// What intercepts traffic besides the listeners: the fake-IP mapping (SQLite, written by a service of its own),
/// the transparent proxy that restores names for connections to fake addresses, and the virtual DNS addresses on
/// a TUN device.
final class InterceptionSubsystem: Sendable {
    /// The fake-IP mapping, when fake-IP mode is on.
    let fakeIP: FakeIPPersistence?
    private let logger: Logger
    private let proxy = Mutex<TransparentProxyServer?>(nil)
    private let tun = Mutex<RunningTUN?>(nil)

    /// Opens the fake-IP database and restores the pools (IPv4 first, then IPv6 if configured).
    init(config: DNSGateConfig, logger: Logger) throws {
        self.logger = logger
        self.fakeIP = try config.fakeIP.map { settings in
            let pools = ([settings.range] + (settings.range6.map { [$0] } ?? [])).map { FakeIPPool(range: $0) }
            return try FakeIPPersistence(store: try FakeIPStore(path: settings.database), pools: pools)
        }
    }

    /// Starts the TUN responder and the transparent proxy, those that are configured: the responder answers through
    /// `pipeline`, the proxy finds real addresses through `resolving`.
    func start(_ config: DNSGateConfig, pipeline: any DNSHandler, resolving: any DNSHandler,
               group: any EventLoopGroup) async throws {
        if let settings = config.tun {
            let running = try Self.startTUN(settings, config: config, pipeline: pipeline, group: group,
                                            logger: self.logger)
            self.tun.withLock { $0 = running }
        }
        if let fakeIP = self.fakeIP, let settings = config.fakeIP?.proxy {
            let proxy = TransparentProxyServer(
                settings: settings, pools: fakeIP.pools,
                resolver: NameResolver(pipeline: resolving, timeout: config.queryTimeout), group: group,
                logger: self.logger)
            self.proxy.withLock { $0 = proxy }
            try await proxy.start()
        }
    }

    /// The TUN responder's counters, while it runs.
    var tunCounters: MetricSources.TUNCounters? { self.tun.withLock { $0?.counters } }

    /// The proxy's connection statistics, while it runs.
    var proxyStatistics: ConnectionJournal.Statistics? { self.proxy.withLock { $0?.statistics } }

    /// Applies `config`'s proxy rules and virtual addresses.
    func reload(_ config: DNSGateConfig) {
        if let rules = config.fakeIP?.proxy?.rules { self.proxy.withLock { $0 }?.rules.replace(with: rules) }
        if let addresses = config.tun?.addresses { self.tun.withLock { $0 }?.serve(addresses) }
    }

    /// Stops the TUN responder (as early as a listener: it takes queries like one).
    var tunService: LifecycleService {
        LifecycleService("TUN responder", stop: { [self] in self.tun.withLock { $0 }?.device.close() })
    }

    /// Stops the transparent proxy.
    var proxyService: LifecycleService {
        LifecycleService("transparent proxy", stop: { [self] in await self.proxy.withLock { $0 }?.shutdown() })
    }

    /// Writes new fake-IP mappings every second and, last of all at shutdown, once more.
    var persistenceService: LifecycleService {
        let logger = self.logger
        let fakeIP = self.fakeIP
        let report: @Sendable (any Error) -> Void = { logger.error("fake-IP database write failed", metadata: ["error": "\($0)"]) }
        let loop: (@Sendable () async -> Void)? = fakeIP.map { persistence in
            { @Sendable in await persistence.run(report: report) }
        }
        return LifecycleService("fake-IP persistence", loop: loop, stop: {
            do {
                try await fakeIP?.flush()
            } catch {
                report(error)
            }
        })
    }

    /// Closes what `start` opened, when start-up fails half-way.
    func abandon() async {
        self.tun.withLock { $0 }?.device.close()
        await self.proxy.withLock { $0 }?.shutdown()
    }

    /// Opens the TUN device and answers the virtual addresses on it through `pipeline`; everything else that
    /// arrives on the device is counted and dropped.
    private static func startTUN(_ settings: TUNSettings, config: DNSGateConfig, pipeline: any DNSHandler,
                                 group: any EventLoopGroup, logger: Logger) throws -> RunningTUN {
        let device = try TUNDevice(name: settings.name, mtu: settings.mtu,
                                   addresses: settings.deviceAddresses,
                                   routes: settings.addresses.map(IPPrefix.host))
        let responder = DNSPacketResponder(pipeline: pipeline, eventLoop: group.next(), mtu: settings.mtu,
                                           output: device, queryTimeout: config.queryTimeout,
                                           maxTCPConnections: settings.maxTCPConnections,
                                           tcpIdleTimeout: config.tcpIdleTimeout)
        let filter = PacketFilter(passThrough: DiscardSink())
        for address in settings.addresses { filter.add(.host(address), sink: responder) }
        device.startReading(into: filter)
        logger.notice("virtual DNS on TUN device", metadata: [
            "device": "\(device.name)", "mtu": "\(settings.mtu)",
            "addresses": "\(settings.addresses.map(\.description).joined(separator: ", "))",
        ])
        return RunningTUN(device: device, filter: filter, responder: responder, addresses: settings.addresses,
                          logger: logger)
    }
}
