public import DNSCore

/// How the default upstream group spreads queries and watches its upstreams' health (`upstream.policy`,
/// `upstream.hedging`, `upstream.health.*`).
public struct UpstreamSelectionSettings: Sendable, Hashable {
    public var policy: SelectionPolicy
    /// Whether a slow answer is raced by a second upstream.
    public var hedging: Bool
    /// When an upstream counts as down and for how long.
    public var health: UpstreamHealthSettings
    /// Active probes (`upstream.health.check_interval`, `upstream.health.check_query`), or nil for passive
    /// health only.
    public var check: HealthCheck?
}
