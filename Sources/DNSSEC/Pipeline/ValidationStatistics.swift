public import DNSCore

/// What validation has found since start: answers by verdict, bogus answers by reason, upstream answers that came
/// back without the DNSSEC records asked for, and how long validation took.
public final class ValidationStatistics: Sendable {
    private let counters = AtomicCounters(count: DNSSECStatus.allCases.count + BogusReason.allCases.count + 1)
    /// Time from the upstream answer to the verdict, including DS and DNSKEY fetches.
    public let latency = LatencyHistogram()

    /// All counts at zero.
    public init() {}

    func count(status: DNSSECStatus) {
        self.counters.add(at: DNSSECStatus.allCases.firstIndex(of: status) ?? 0)
    }

    func count(reason: BogusReason) {
        self.counters.add(at: DNSSECStatus.allCases.count + (BogusReason.allCases.firstIndex(of: reason) ?? 0))
    }

    func countUnsignedUpstreamAnswer() {
        self.counters.add(at: self.counters.count - 1)
    }

    /// Answers with each verdict.
    public func answers(_ status: DNSSECStatus) -> Int {
        self.counters.value(at: DNSSECStatus.allCases.firstIndex(of: status) ?? 0)
    }

    /// Bogus answers for `reason`.
    public func bogus(_ reason: BogusReason) -> Int {
        self.counters.value(at: DNSSECStatus.allCases.count + (BogusReason.allCases.firstIndex(of: reason) ?? 0))
    }

    /// Upstream answers to DO queries that carried no DO bit back or no RRSIG for a zone's keys.
    public var unsignedUpstreamAnswers: Int { self.counters.value(at: self.counters.count - 1) }
}
