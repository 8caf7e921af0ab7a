public import DNSCore
import DNSWire

/// Answers `ANY` queries with the single HINFO record of RFC 8482 section 4.2 instead of forwarding them: ANY is the
/// favourite query of amplification attacks, and no real client depends on its full answer.
public struct MinimalANYMiddleware: DNSDecidingMiddleware {
    /// RFC 8482 suggests a long TTL, so that resolvers keep the answer.
    static let ttl: UInt32 = 3600
    /// CPU "RFC8482", OS "" (each a length-prefixed character string).
    static let record = DNSLocalRecord(type: .hinfo, ttl: Self.ttl, rdata: [7] + Array("RFC8482".utf8) + [0])

    public init() {}

    /// The HINFO answer to an ANY query.
    public func decision(for request: DNSRequest) -> DNSResponse? {
        request.question.type == .any ? .local([Self.record], for: request) : nil
    }
}
