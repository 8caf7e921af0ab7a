import Config
import DNSUpstream
import DNSWire
import Logging
import NIOCore
import Synchronization
import UpstreamTLS
import DNSCore

/// The upstreams queries go to: built from the configuration (groups, conditional forwarding, bootstrap), replaced
/// by a reload that changes their settings (the old ones close once their queries' deadlines are over), and shut
/// down last among the query path.
final class UpstreamSubsystem: Sendable {
    private let group: any EventLoopGroup
    private let logger: Logger
    private let upstream: Mutex<any Upstream>

    init(config: DNSGateConfig, group: any EventLoopGroup, logger: Logger) throws {
        self.group = group
        self.logger = logger
        self.upstream = Mutex(try Self.makeUpstream(config, group: group, logger: logger))
    }

    /// The upstreams in use now.
    var current: any Upstream { self.upstream.withLock { $0 } }

    /// New upstreams for `config`, not yet in use (a reload builds them before it commits to anything).
    func build(_ config: DNSGateConfig) throws -> any Upstream {
        try Self.makeUpstream(config, group: self.group, logger: self.logger)
    }

    /// Puts `upstream` in use; the one it replaces closes after `grace` (its queries' deadlines).
    func replace(with upstream: any Upstream, closingOldAfter grace: TimeAmount) {
        let old = self.upstream.withLock { current in
            defer { current = upstream }
            return current
        }
        Task {
            try? await Task.sleep(for: .nanoseconds(grace.nanoseconds))
            await old.shutdown()
        }
    }

    /// Closes the upstreams' connections.
    func stop() async {
        await self.current.shutdown()
    }

    /// The configured upstreams behind their selection policy.
    private static func makeUpstream(_ config: DNSGateConfig, group: any EventLoopGroup, logger: Logger) throws
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

    /// The resolver of upstream host names through the `bootstrap` servers, or nil when there are none (or no
    /// upstream is given by name).
    private static func makeBootstrap(_ config: DNSGateConfig, group: any EventLoopGroup,
                                      options: UpstreamConnectionOptions, logger: Logger) throws -> BootstrapResolver? {
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
