public import NIOCore

/// The wait before the next connection attempt after failed ones: 100 ms, doubling per failure up to 5 s, back
/// to the start after a success.
public struct ReconnectBackoff: Sendable {
    /// The wait after the first failure.
    public static let initial = TimeAmount.milliseconds(100)
    /// The longest wait.
    public static let maximum = TimeAmount.seconds(5)

    /// Failed attempts since the last success.
    public private(set) var consecutiveFailures = 0

    public init() {}

    /// Records a failed attempt and returns how long to wait before the next one.
    public mutating func failed() -> TimeAmount {
        self.consecutiveFailures += 1
        let exponent = min(self.consecutiveFailures - 1, 16)
        return min(Self.initial * (1 << exponent), Self.maximum)
    }

    /// Records a successful attempt; returns whether it ends a run of failures (worth a log line).
    public mutating func succeeded() -> Bool {
        defer { self.consecutiveFailures = 0 }
        return self.consecutiveFailures > 0
    }
}
