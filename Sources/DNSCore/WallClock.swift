#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The system's real-time clock, for values that outlive the process or cross machines (shared cache entries,
/// fake-IP mappings); durations inside the process use the monotonic clock.
public enum WallClock {
    /// Milliseconds since 1970.
    @Sendable public static func milliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }

    /// Seconds since 1970.
    @Sendable public static func seconds() -> Int64 {
        Self.milliseconds() / 1000
    }
}
