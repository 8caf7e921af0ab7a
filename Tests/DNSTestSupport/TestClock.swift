public import NIOCore
import Synchronization

/// Monotonic time that a test moves by hand, for code that takes its clock as a parameter: decisions that depend on
/// time are checked by stepping it, not by sleeping.
public final class TestClock: Sendable {
    private let nanoseconds = Mutex<UInt64>(1_000_000_000_000)

    public init() {}

    /// The time now.
    public func now() -> NIODeadline {
        .uptimeNanoseconds(self.nanoseconds.withLock { $0 })
    }

    /// Moves the time on by `amount`.
    public func advance(by amount: TimeAmount) {
        self.nanoseconds.withLock { $0 += UInt64(max(0, amount.nanoseconds)) }
    }
}
