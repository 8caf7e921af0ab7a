public import DNSWire
public import NIOCore

/// What an active health check asks, and how often.
public struct HealthCheck: Sendable, Hashable {
    public var interval: TimeAmount
    public var name: DNSName
    public var type: DNSType

    public init(interval: TimeAmount, name: DNSName = .root, type: DNSType = .ns) {
        self.interval = interval
        self.name = name
        self.type = type
    }
}
