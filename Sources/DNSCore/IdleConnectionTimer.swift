public import NIOCore

/// Closes a connection that has had nothing to do for `timeout`. Marking activity only stores a time; the single
/// timer re-arms itself when it finds the connection was busy, so there is no per-message timer or promise (NIO's
/// `IdleStateHandler` allocates a promise per write). Used on the connection's loop only.
public final class IdleConnectionTimer {
    private let timeout: TimeAmount
    private var lastActivity = NIODeadline.distantPast
    private var timer: Scheduled<Void>?

    public init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    /// Starts watching; `isIdle` says whether nothing is in flight, and `close` is called once the connection has
    /// been idle for the whole timeout. Starting again replaces the running timer (a handler that starts it both
    /// when added to an active channel and on `channelActive` must not leave the first one behind: it would stay
    /// scheduled, holding the connection, for the whole timeout).
    public func start(on eventLoop: any EventLoop, isIdle: @escaping () -> Bool, close: @escaping () -> Void) {
        self.stop()
        self.lastActivity = eventLoop.now
        self.arm(on: eventLoop, at: self.lastActivity + self.timeout, isIdle: isIdle, close: close)
    }

    /// Records activity now.
    public func touch(_ now: NIODeadline) {
        self.lastActivity = now
    }

    /// Stops watching.
    public func stop() {
        self.timer?.cancel()
        self.timer = nil
    }

    private func arm(on eventLoop: any EventLoop, at deadline: NIODeadline, isIdle: @escaping () -> Bool,
                     close: @escaping () -> Void) {
        self.timer = eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
            let due = self.lastActivity + self.timeout
            if isIdle(), eventLoop.now >= due {
                self.timer = nil
                close()
            } else {
                self.arm(on: eventLoop, at: max(due, eventLoop.now + .nanoseconds(self.timeout.nanoseconds / 10)), isIdle: isIdle, close: close)
            }
        }
    }
}
