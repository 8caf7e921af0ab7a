public import DNSCore
public import DNSWire
import Synchronization

/// The client groups and their block rules as they are now, and how a blocked name is answered. The groups are
/// replaced as a whole when lists are refreshed, while queries keep reading them.
public final class BlockingPolicy: Sendable {
    /// The answer to a blocked name.
    public enum Answer: String, Sendable, Hashable, CaseIterable {
        /// NXDOMAIN: the name does not exist.
        case nxdomain
        /// REFUSED.
        case refused
        /// `0.0.0.0` to A queries and `::` to AAAA queries (an empty answer to other types), with ``nullTTL``.
        case null
    }

    public let answer: Answer
    /// The TTL of null answers.
    public let nullTTL: UInt32
    private let groups: Mutex<[ClientGroup]>

    /// - Parameter groups: checked in order; the first whose clients include the client's address applies, and a
    ///   group with no clients applies to everyone.
    public init(groups: [ClientGroup], answer: Answer = .null, nullTTL: UInt32 = 60) {
        self.groups = Mutex(groups)
        self.answer = answer
        self.nullTTL = nullTTL
    }

    /// Replaces the groups (a list refresh).
    public func replace(_ groups: [ClientGroup]) {
        self.groups.withLock { $0 = groups }
    }

    /// The groups now.
    public var currentGroups: [ClientGroup] { self.groups.withLock { $0 } }

    /// The rules for `client` (or the default group's, for a query with no client address), nil when none apply.
    public func rules(for client: IPAddress?) -> DomainRules? {
        self.groups.withLock { groups in
            for group in groups where group.clients.isEmpty || (client.map(group.clients.contains) ?? false) {
                return group.rules.isEmpty ? nil : group.rules
            }
            return nil
        }
    }

    /// The answer for `request`, whose name (or a name its answer leads to) is blocked: with Extended DNS Error 15.
    public func blockedAnswer(to request: DNSRequest) -> DNSResponse {
        var response: DNSResponse
        switch self.answer {
        case .nxdomain:
            response = .error(.nxDomain, for: request, extendedError: .blocked)
        case .refused:
            response = .error(.refused, for: request, extendedError: .blocked)
        case .null:
            let records: [DNSLocalRecord] = switch request.question.type {
            case .a: [DNSLocalRecord(type: .a, ttl: self.nullTTL, rdata: [0, 0, 0, 0])]
            case .aaaa: [DNSLocalRecord(type: .aaaa, ttl: self.nullTTL, rdata: [UInt8](repeating: 0, count: 16))]
            default: []
            }
            let message = DNSErrorResponse.make(.noError, to: request.message, view: request.view,
                                                extendedError: .blocked, answers: records)
            response = DNSResponse(message: message ?? request.message)
        }
        response.origin = .blocked
        return response
    }
}
