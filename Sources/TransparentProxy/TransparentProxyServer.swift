public import FakeIP
public import Logging
public import NIOCore
public import DNSCore

/// The transparent proxy of fake-IP mode, TCP and UDP on the same listen addresses, with one connection journal.
public final class TransparentProxyServer: Sendable {
    private let tcp: TransparentTCPProxy
    private let udp: TransparentUDPProxy
    private let journal: ConnectionJournal
    /// The rules new connections and flows are decided by.
    public let rules: ProxyRuleSet

    /// - Parameters:
    ///   - pools: the fake-IP pools whose addresses the proxy accepts.
    ///   - resolver: finds a domain's real addresses.
    public init(settings: TransparentProxySettings, pools: [FakeIPPool], resolver: NameResolver,
                group: any EventLoopGroup, logger: Logger) {
        let journal = ConnectionJournal(enabled: settings.journal, logger: logger)
        self.journal = journal
        let dialers = DialerTable(settings: settings, resolver: resolver)
        let rules = ProxyRuleSet(settings.rules)
        self.rules = rules
        self.tcp = TransparentTCPProxy(settings: settings, rules: rules, pools: pools, dialers: dialers,
                                       group: group, logger: logger, journal: journal)
        self.udp = TransparentUDPProxy(settings: settings, rules: rules, pools: pools, dialers: dialers,
                                       loop: group.next(), journal: journal)
    }

    /// Connection counters, TCP and UDP together.
    public var statistics: ConnectionJournal.Statistics { self.journal.statistics }

    /// Binds TCP and UDP listeners; a missing CAP_NET_ADMIN is an error that says so.
    public func start() async throws {
        try await self.tcp.start()
        try self.udp.start()
    }

    public func shutdown() async {
        await self.tcp.shutdown()
        await self.udp.shutdown()
    }
}
