public import NIOCore

/// When an upstream counts as down and how long it is left alone.
public struct UpstreamHealthSettings: Sendable, Hashable {
    public var failureThreshold: Int
    public var initialBackoff: TimeAmount
    public var maximumBackoff: TimeAmount

    /// The longest back-off is 8 s, so that an upstream that heals gets a trial, and with it traffic, within
    /// 10 s even without active checks.
    public init(failureThreshold: Int = 3, initialBackoff: TimeAmount = .seconds(1),
                maximumBackoff: TimeAmount = .seconds(8)) {
        self.failureThreshold = failureThreshold
        self.initialBackoff = initialBackoff
        self.maximumBackoff = maximumBackoff
    }
}
