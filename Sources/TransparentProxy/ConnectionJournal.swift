import Atomics
public import DNSCore
import Logging
public import NIOCore

/// A line per proxied connection when it opens and when it closes (client, domain, fake and real address, port,
/// protocol, bytes each way, duration, dialer), when the journal is on, and counters for the metrics endpoint
/// always. Domains are logged only with the journal on: they are as private as query names.
public final class ConnectionJournal: Sendable {
    public struct Entry: Sendable {
        public var client: SocketAddress?
        public var domain: String
        public var fake: IPAddress
        public var port: Int
        public var transport: String
        public var dialer: String
        public var started: NIODeadline
        public var real: SocketAddress?
    }

    /// Connection counters.
    public final class Statistics: Sendable {
        let opened = ManagedAtomic<Int>(0)
        let closed = ManagedAtomic<Int>(0)
        let failed = ManagedAtomic<Int>(0)
        let bytesSent = ManagedAtomic<Int>(0)
        let bytesReceived = ManagedAtomic<Int>(0)
        let datagramsDropped = ManagedAtomic<Int>(0)
        /// Connections reset, by the dialer that was to carry them (`none` when the address had no name).
        private let failuresByDialer: [String: ManagedAtomic<Int>] = Dictionary(
            uniqueKeysWithValues: ConnectionJournal.dialerNames.map { ($0, ManagedAtomic(0)) })

        func countFailure(dialer: String) {
            self.failed.wrappingIncrement(ordering: .relaxed)
            self.failuresByDialer[dialer]?.wrappingIncrement(ordering: .relaxed)
        }

        /// Connections reset so far, by dialer (`direct`, `socks5`, `reject`, and `none` for unknown addresses).
        public var failures: [String: Int] { self.failuresByDialer.mapValues { $0.load(ordering: .relaxed) } }

        /// Opened, closed, failed (reset: unknown address, rejected, unreachable), bytes from and to clients, and
        /// UDP datagrams dropped whole (too large for the way out, refused by the kernel, or beyond the queue of a
        /// flow still being opened).
        public var snapshot: (opened: Int, closed: Int, failed: Int, bytesSent: Int, bytesReceived: Int,
                              datagramsDropped: Int) {
            (self.opened.load(ordering: .relaxed), self.closed.load(ordering: .relaxed),
             self.failed.load(ordering: .relaxed), self.bytesSent.load(ordering: .relaxed),
             self.bytesReceived.load(ordering: .relaxed), self.datagramsDropped.load(ordering: .relaxed))
        }
    }

    /// The dialers failures are counted by: one per rule action, and `none`.
    static let dialerNames = ["direct", "socks5", "reject", "none"]

    public let statistics = Statistics()
    private let enabled: Bool
    private let logger: Logger

    init(enabled: Bool, logger: Logger) {
        self.enabled = enabled
        var logger = logger
        logger[metadataKey: "journal"] = "connection"
        self.logger = logger
    }

    private func metadata(_ entry: Entry) -> Logger.Metadata {
        [
            "client": "\(entry.client.map { "\($0)" } ?? "-")", "domain": "\(entry.domain)", "fake": "\(entry.fake)",
            "real": "\(entry.real.map { "\($0)" } ?? "-")", "port": "\(entry.port)", "protocol": "\(entry.transport)",
            "dialer": "\(entry.dialer)",
        ]
    }

    func opened(_ entry: Entry) {
        self.statistics.opened.wrappingIncrement(ordering: .relaxed)
        guard self.enabled else { return }
        self.logger.info("connection opened", metadata: self.metadata(entry))
    }

    func closed(_ entry: Entry, sent: Int, received: Int) {
        self.statistics.closed.wrappingIncrement(ordering: .relaxed)
        self.statistics.bytesSent.wrappingIncrement(by: sent, ordering: .relaxed)
        self.statistics.bytesReceived.wrappingIncrement(by: received, ordering: .relaxed)
        guard self.enabled else { return }
        var metadata = self.metadata(entry)
        metadata["sent"] = "\(sent)"
        metadata["received"] = "\(received)"
        metadata["durationMs"] = "\((NIODeadline.now() - entry.started).nanoseconds / 1_000_000)"
        self.logger.info("connection closed", metadata: metadata)
    }

    func failed(_ entry: Entry, reason: String) {
        self.statistics.countFailure(dialer: entry.dialer)
        guard self.enabled else { return }
        var metadata = self.metadata(entry)
        metadata["reason"] = "\(reason)"
        self.logger.info("connection reset", metadata: metadata)
    }

    /// A UDP datagram that could not be relayed whole and was dropped.
    func droppedDatagram() {
        self.statistics.datagramsDropped.wrappingIncrement(ordering: .relaxed)
        self.logger.debug("UDP datagram dropped: too large for the way out or refused by the kernel")
    }

    func refused(client: SocketAddress?, destination: SocketAddress?, reason: String) {
        self.statistics.countFailure(dialer: "none")
        self.logger.info("connection reset", metadata: [
            "client": "\(client.map { "\($0)" } ?? "-")", "destination": "\(destination.map { "\($0)" } ?? "-")",
            "reason": "\(reason)",
        ])
    }
}
