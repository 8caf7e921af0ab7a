/// What the admin listener shows and does: dnsgate's running parts, seen through one interface so that the admin
/// module knows nothing of caches, upstreams or devices.
public protocol AdminBackend: Sendable {
    /// Everything `/metrics` exposes, read now.
    func metricFamilies() -> [MetricFamily]
    /// The figures of `/api/v1/stats`.
    func stats() -> AdminStats
    /// The state of each upstream.
    func upstreams() -> [UpstreamState]
    /// Nil when ready to serve; otherwise why not (listeners not bound, no upstream reachable, shutting down). May
    /// probe the upstreams, within a couple of seconds.
    func notReadyReason() async -> String?
    /// Removes cached answers for `name` (all types), or all of them; returns how many.
    func flushCache(name: String?) throws -> Int
    /// The configuration in force, with secrets masked, as `key: value` lines.
    func effectiveConfiguration() -> [String: String]
    /// Re-reads the configuration file and applies it; throws, changing nothing, when the file is invalid.
    func reload() async throws -> String
}
