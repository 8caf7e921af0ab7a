import DNSCore
import DNSWire

/// Conditional forwarding: domains whose queries go to upstreams of their own.
extension ConfigLoader {
    static let forwardingKeys = ["forward"]

    static func forwardingRules(_ values: ConfigValues) throws -> [ForwardingRule] {
        let rules = try values.list("forward", default: [], allowEmpty: true).map { text in
            do {
                return try ForwardingRule(parsing: text)
            } catch let error as UpstreamAddressError {
                throw ConfigError(key: "forward", value: text, allowed: error.reason)
            }
        }
        var seen: Set<DNSName> = []
        for rule in rules where !seen.insert(rule.domain).inserted {
            throw ConfigError(key: "forward", value: "\(rule.domain)", allowed: "one rule per domain")
        }
        return rules
    }
}
