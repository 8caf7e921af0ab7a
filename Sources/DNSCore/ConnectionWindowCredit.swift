/// The receive window a DoH endpoint (client or server) grants its peer on a whole HTTP/2 connection: all of
/// ``size`` up front, and back in one WINDOW_UPDATE once half of it has been used, instead of one update per DATA
/// frame. Kept by one event loop.
public struct ConnectionWindowCredit: Sendable {
    /// The window granted up front; DNS messages are small, so it is rarely the limit.
    public static let size = 1 << 24

    private var unacknowledged = 0

    public init() {}

    /// Counts `bytes` of DATA received; returns the increment to grant now, or nil while less than half the window
    /// has been used.
    public mutating func consume(_ bytes: Int) -> Int? {
        self.unacknowledged += bytes
        guard self.unacknowledged >= Self.size / 2 else { return nil }
        defer { self.unacknowledged = 0 }
        return self.unacknowledged
    }
}
