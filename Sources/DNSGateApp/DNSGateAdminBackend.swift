import Admin
import Atomics
import Config
import DNSCache
import DNSCore
import DNSUpstream
import DNSWire
import NIOCore

/// The admin listener's view of a running dnsgate: metrics and stats from ``MetricSources``, readiness from the
/// listeners' state and the upstreams' recent answers (probing them when none answered lately, one round of probes
/// per readiness window at most, however often `/readyz` is asked), the cache flush, the effective configuration,
/// and reload.
final class DNSGateAdminBackend: AdminBackend {
    private let sources: MetricSources
    private let configuration: @Sendable () -> DNSGateConfig
    private let reloader: @Sendable () async throws -> String
    private let readinessWindow: TimeAmount
    /// The probe rounds, at most one per readiness window.
    private let probes: ThrottledCheck
    /// Set once every listener is bound; cleared when shutdown begins.
    private let serving = ManagedAtomic(false)

    init(sources: MetricSources, configuration: @escaping @Sendable () -> DNSGateConfig, probeLoop: any EventLoop,
         readinessWindow: TimeAmount, reloader: @escaping @Sendable () async throws -> String) {
        self.sources = sources
        self.configuration = configuration
        self.reloader = reloader
        self.readinessWindow = readinessWindow
        self.probes = ThrottledCheck(interval: readinessWindow) {
            await Self.probeRound(sources.currentUpstreams(), on: probeLoop,
                                  deadline: .now() + min(readinessWindow, .seconds(2)))
        }
    }

    /// Whether every listener is serving: true once started, false again when shutdown begins.
    func setServing(_ serving: Bool) {
        self.serving.store(serving, ordering: .relaxed)
    }

    func metricFamilies() -> [MetricFamily] { self.sources.metricFamilies() }

    func stats() -> AdminStats { self.sources.stats() }

    func upstreams() -> [UpstreamState] { self.sources.upstreamStates() }

    func notReadyReason() async -> String? {
        guard self.serving.load(ordering: .relaxed) else { return "listeners are not serving (starting or stopping)" }
        let upstreams = self.sources.currentUpstreams()
        if upstreams.contains(where: { $0.statistics.answered(within: self.readinessWindow) }) { return nil }
        return await self.probes.result()
    }

    /// Asks each of `upstreams` directly (not through the cache) until `deadline`; nil when any answered.
    private static func probeRound(_ upstreams: [ResolverUpstream], on loop: any EventLoop,
                                   deadline: NIODeadline) async -> String? {
        var failures: [String] = []
        await withTaskGroup(of: String?.self) { group in
            for upstream in upstreams {
                group.addTask { await Self.probe(upstream, on: loop, deadline: deadline) }
            }
            for await failure in group { if let failure { failures.append(failure) } }
        }
        return failures.count < upstreams.count ? nil : "no upstream answered: " + failures.joined(separator: "; ")
    }

    /// Sends `. NS` to `upstream`; nil when any answer came back, otherwise the error.
    private static func probe(_ upstream: ResolverUpstream, on loop: any EventLoop,
                              deadline: NIODeadline) async -> String? {
        do {
            _ = try await loop.flatSubmit { upstream.probe(deadline: deadline, on: loop) }.get()
            return nil
        } catch {
            return "\(error)"
        }
    }

    func flushCache(name: String?) throws -> Int {
        guard let cache = self.sources.currentCache() else { throw AdminError.cacheOff }
        guard let name else { return cache.flush() }
        guard let parsed = DNSName(name.hasSuffix(".") ? name : name + ".") else {
            throw AdminError.notADomainName(name)
        }
        return cache.flush(parsed)
    }

    func effectiveConfiguration() -> [String: String] { self.configuration().effectiveSettings }

    func reload() async throws -> String { try await self.reloader() }
}
