public import DNSCore
import DNSWire

/// Answers local names with authority (AA set): their records, an empty answer (NODATA) for other types, and the
/// local part of a CNAME chain. Other names go on.
public struct LocalRecordsMiddleware: DNSDecidingMiddleware {
    public let records: LocalRecords

    public init(records: LocalRecords) {
        self.records = records
    }

    /// The local answer, or nil for a name that is not local.
    public func decision(for request: DNSRequest) -> DNSResponse? {
        var response: DNSResponse
        switch self.records.lookup(request.question.name, type: request.question.type) {
        case .notLocal: return nil
        case .noData: response = .local([], for: request)
        case .answer(let records): response = .local(records, for: request)
        }
        response.message.setDNSFlagBits(DNSHeader.Flag.aa)
        return response
    }
}
