import DNSWire
import NIOCore

/// How often deadlines of queries waiting on an upstream are checked: the precision of a query's timeout.
enum DeadlineSweep {
    static let interval = TimeAmount.milliseconds(50)
}

/// The queries one upstream connection has sent and not yet seen answered, keyed by what the connection matches
/// answers with (the upstream-side DNS ID, or the HTTP/2 stream). Deadlines fail the query, not the connection,
/// and are checked by one sweep every ``DeadlineSweep/interval`` rather than a timer per query, whose cancellation
/// costs a linear search of the event loop's timer heap. Confined to the connection's event loop.
final class InFlightQueries<Key: Hashable> {
    /// One query on its way.
    struct Entry {
        /// The client's ID, put back into the answer.
        var clientID: UInt16
        /// The question the answer must carry.
        var question: DNSQuestion
        var promise: EventLoopPromise<UpstreamAnswer>
        var deadline: NIODeadline
    }

    private var entries: [Key: Entry] = [:]
    private let upstreamName: String
    private var sweepScheduled = false
    /// Called after each sweep (a closing connection closes once drained).
    var afterSweep: () -> Void = {}
    /// Called for each query the sweep failed for its deadline (an HTTP/2 carrier resets its stream).
    var expired: (Key) -> Void = { _ in }

    init(upstreamName: String) {
        self.upstreamName = upstreamName
    }

    var count: Int { self.entries.count }
    var isEmpty: Bool { self.entries.isEmpty }

    func contains(_ key: Key) -> Bool { self.entries[key] != nil }

    /// The keys of the queries in flight.
    var keys: [Key] { Array(self.entries.keys) }

    subscript(key: Key) -> Entry? { self.entries[key] }

    /// Adds a query; its deadline is watched from now on.
    func insert(_ entry: Entry, for key: Key, on eventLoop: any EventLoop) {
        self.entries[key] = entry
        self.scheduleSweep(on: eventLoop)
    }

    func remove(_ key: Key) -> Entry? { self.entries.removeValue(forKey: key) }

    /// Fails every query in flight with `error`.
    func failAll(_ error: UpstreamError) {
        let entries = self.entries
        self.entries.removeAll()
        for entry in entries.values { entry.promise.fail(error) }
    }

    private func scheduleSweep(on eventLoop: any EventLoop) {
        guard !self.sweepScheduled else { return }
        self.sweepScheduled = true
        eventLoop.assumeIsolated().scheduleTask(in: DeadlineSweep.interval) {
            self.sweepScheduled = false
            let now = eventLoop.now
            let overdue = self.entries.filter { $0.value.deadline <= now }
            for (key, entry) in overdue {
                self.entries[key] = nil
                entry.promise.fail(UpstreamError.timeout(self.upstreamName))
                self.expired(key)
            }
            self.afterSweep()
            if !self.entries.isEmpty { self.scheduleSweep(on: eventLoop) }
        }
    }
}
