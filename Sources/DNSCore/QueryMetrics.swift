import DNSWire
public import NIOCore

/// Counts of answered queries by transport, query type and response code, the answers' sources, and how long the
/// answers took per transport. Every label takes a value from a small fixed set (common types and codes, then
/// `other`), and a query costs a few relaxed atomic increments: no lock, no dictionary, no text.
public final class QueryMetrics: QueryObserver {
    /// The query types counted by name; every other type counts as `other`.
    public static let typeNames = ["A", "AAAA", "CNAME", "MX", "TXT", "NS", "SOA", "PTR", "SRV", "HTTPS", "SVCB",
                                   "DS", "DNSKEY", "CAA", "ANY", "other"]
    /// The response codes counted by name; every other code counts as `other`.
    public static let rcodeNames = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "other"]

    private static let answerSlots = DNSTransport.allCases.count * QueryMetrics.typeNames.count
        * QueryMetrics.rcodeNames.count
    private static let originOffset = QueryMetrics.answerSlots
    private static let latencyOffset = QueryMetrics.originOffset + DNSResponse.Origin.allCases.count
    /// Answers by transport, type and code, then by origin, then a latency histogram per transport.
    private let counters = AtomicCounters(count: QueryMetrics.latencyOffset
        + DNSTransport.allCases.count * LatencyHistogram.slots)

    public init() {}

    /// Counts `response`, the answer to `request`, which arrived at `start`.
    public func record(_ request: DNSRequest, _ response: DNSResponse, since start: NIODeadline) {
        let transport = Self.index(of: request.metadata.transport)
        let rcode = response.message.getInteger(at: response.message.readerIndex + 3, as: UInt8.self).map {
            Self.rcodeIndex(Int($0 & 0x0F))
        } ?? Self.rcodeNames.count - 1
        let slot = (transport * Self.typeNames.count + Self.typeIndex(request.question.type.rawValue))
            * Self.rcodeNames.count + rcode
        self.counters.add(at: slot)
        self.counters.add(at: Self.originOffset + Self.index(of: response.origin))
        LatencyHistogram.record(.now() - start, in: self.counters,
                                at: Self.latencyOffset + transport * LatencyHistogram.slots)
    }

    /// Answered queries of `transport`, query type `type` and response code `rcode` (names as in ``typeNames`` and
    /// ``rcodeNames``).
    public func answered(transport: DNSTransport, type: String, rcode: String) -> Int {
        guard let typeIndex = Self.typeNames.firstIndex(of: type), let rcodeIndex = Self.rcodeNames.firstIndex(of: rcode)
        else { return 0 }
        let slot = (Self.index(of: transport) * Self.typeNames.count + typeIndex) * Self.rcodeNames.count + rcodeIndex
        return self.counters.value(at: slot)
    }

    /// Answers that came from `origin`.
    public func answered(from origin: DNSResponse.Origin) -> Int {
        self.counters.value(at: Self.originOffset + Self.index(of: origin))
    }

    /// How long the answers over `transport` took.
    public func latency(of transport: DNSTransport) -> LatencyHistogram.Snapshot {
        let offset = Self.latencyOffset + Self.index(of: transport) * LatencyHistogram.slots
        return LatencyHistogram.snapshot(of: self.counters, at: offset)
    }

    private static func index(of transport: DNSTransport) -> Int {
        switch transport {
        case .udp: 0
        case .tcp: 1
        case .tls: 2
        case .https: 3
        case .tun: 4
        case .doq: 5
        }
    }

    private static func index(of origin: DNSResponse.Origin) -> Int {
        switch origin {
        case .upstream: 0
        case .cache: 1
        case .local: 2
        case .blocked: 3
        case .fakeIP: 4
        }
    }

    private static func typeIndex(_ type: UInt16) -> Int {
        switch type {
        case 1: 0
        case 28: 1
        case 5: 2
        case 15: 3
        case 16: 4
        case 2: 5
        case 6: 6
        case 12: 7
        case 33: 8
        case 65: 9
        case 64: 10
        case 43: 11
        case 48: 12
        case 257: 13
        case 255: 14
        default: 15
        }
    }

    private static func rcodeIndex(_ rcode: Int) -> Int {
        rcode <= 5 ? rcode : Self.rcodeNames.count - 1
    }
}
