public import DNSCore
import Atomics
import Synchronization

/// Something that takes whole IP packets: a handler behind a filter rule, a tunnel, a device.
public protocol PacketSink: Sendable {
    /// Takes one packet; `packet` is valid only during the call.
    func receive(_ packet: UnsafeRawBufferPointer)
}

/// A filter in front of a packet path (a tunnel in a VPN client, say): each packet's destination address is read
/// (nothing else, no allocation) and the packet goes to the sink registered for that exact address or, failing
/// that, the longest matching prefix; packets that match no rule go on to the pass-through sink unchanged.
/// Rules change at run time without stopping traffic: readers load an immutable rule table with one atomic read,
/// writers publish a new table.
public final class PacketFilter: PacketSink {
    private final class Rules: AtomicReference, Sendable {
        let exact: [IPAddress: any PacketSink]
        /// Longest prefix first.
        let prefixes: [(prefix: IPPrefix, sink: any PacketSink)]

        init(exact: [IPAddress: any PacketSink], prefixes: [(prefix: IPPrefix, sink: any PacketSink)]) {
            self.exact = exact
            self.prefixes = prefixes.sorted { $0.prefix.length > $1.prefix.length }
        }
    }

    private let rules = ManagedAtomic(Rules(exact: [:], prefixes: []))
    private let writers = Mutex(())
    private let passThrough: any PacketSink
    public let statistics = PacketStatistics()

    public init(passThrough: any PacketSink) {
        self.passThrough = passThrough
    }

    /// Sends packets for `prefix` (a host prefix is an exact address) to `sink`, replacing any rule for it.
    public func add(_ prefix: IPPrefix, sink: any PacketSink) {
        self.update { exact, prefixes in
            if prefix.length == (prefix.address.isIPv4 ? 32 : 128) {
                exact[prefix.address] = sink
            } else {
                prefixes.removeAll { $0.prefix == prefix }
                prefixes.append((prefix, sink))
            }
        }
    }

    /// Removes the rule for `prefix`, if there is one.
    public func remove(_ prefix: IPPrefix) {
        self.update { exact, prefixes in
            exact[prefix.address] = nil
            prefixes.removeAll { $0.prefix == prefix }
        }
    }

    private func update(_ change: (inout [IPAddress: any PacketSink], inout [(prefix: IPPrefix, sink: any PacketSink)]) -> Void) {
        self.writers.withLock { _ in
            let current = self.rules.load(ordering: .acquiring)
            var exact = current.exact
            var prefixes = current.prefixes
            change(&exact, &prefixes)
            self.rules.store(Rules(exact: exact, prefixes: prefixes), ordering: .releasing)
        }
    }

    /// The sink for a packet to `destination`, or nil for the pass-through path.
    public func sink(for destination: IPAddress) -> (any PacketSink)? {
        let rules = self.rules.load(ordering: .acquiring)
        if let sink = rules.exact[destination] { return sink }
        return rules.prefixes.first { $0.prefix.contains(destination) }?.sink
    }

    public func receive(_ packet: UnsafeRawBufferPointer) {
        self.statistics.count(self.statistics.packetsIn)
        if let destination = IPPacket.destination(in: packet), let sink = self.sink(for: destination) {
            self.statistics.count(self.statistics.matched)
            sink.receive(packet)
        } else {
            self.statistics.count(self.statistics.passedThrough)
            self.passThrough.receive(packet)
        }
    }
}

/// A sink that drops every packet: the pass-through path when the filter sits in front of nothing else.
public struct DiscardSink: PacketSink {
    public init() {}
    public func receive(_ packet: UnsafeRawBufferPointer) {}
}

/// Packet counters for the metrics endpoint.
public final class PacketStatistics: Sendable {
    let packetsIn = ManagedAtomic<Int>(0)
    let matched = ManagedAtomic<Int>(0)
    let passedThrough = ManagedAtomic<Int>(0)
    let handled = ManagedAtomic<Int>(0)
    private let drops: [PacketDropReason: ManagedAtomic<Int>] = Dictionary(
        uniqueKeysWithValues: PacketDropReason.allCases.map { ($0, ManagedAtomic<Int>(0)) })

    public init() {}

    func count(_ counter: ManagedAtomic<Int>) {
        counter.wrappingIncrement(ordering: .relaxed)
    }

    func dropped(_ reason: PacketDropReason) {
        self.drops[reason]?.wrappingIncrement(ordering: .relaxed)
    }

    /// Packets dropped for `reason` so far.
    public func drops(_ reason: PacketDropReason) -> Int {
        self.drops[reason]?.load(ordering: .relaxed) ?? 0
    }

    /// The counters now.
    public struct Snapshot: Sendable, Hashable {
        /// Packets the filter saw, matched to a rule, and passed through.
        public var packetsIn: Int
        public var matched: Int
        public var passedThrough: Int
        /// Packets answered (or written, for a device).
        public var handled: Int
        public var dropped: [PacketDropReason: Int]
    }

    public var snapshot: Snapshot {
        Snapshot(packetsIn: self.packetsIn.load(ordering: .relaxed), matched: self.matched.load(ordering: .relaxed),
                 passedThrough: self.passedThrough.load(ordering: .relaxed),
                 handled: self.handled.load(ordering: .relaxed),
                 dropped: self.drops.mapValues { $0.load(ordering: .relaxed) })
    }
}
