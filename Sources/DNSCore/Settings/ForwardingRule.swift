public import DNSWire

/// One conditional forwarding rule (`forward` in YAML): `DOMAIN URL [options] [URL [options] ...] [policy=P]`,
/// for example `corp.example udp://10.0.0.53 udp://10.0.0.54 policy=round_robin`. Names at and below the domain
/// go to these upstreams instead of the default ones.
public struct ForwardingRule: Sendable, Hashable, CustomStringConvertible {
    public var domain: DNSName
    public var upstreams: [UpstreamSpec]
    public var policy: SelectionPolicy

    public init(parsing text: String) throws(UpstreamAddressError) {
        let words = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard let first = words.first, let domain = DNSName(first.hasSuffix(".") ? first : first + ".") else {
            throw UpstreamAddressError(text, "expected a domain, then its upstreams")
        }
        var policy = SelectionPolicy.sequential
        var specs: [String] = []
        for word in words.dropFirst() {
            if word.hasPrefix("policy=") {
                guard let parsed = SelectionPolicy(rawValue: String(word.dropFirst(7)).lowercased()) else {
                    throw UpstreamAddressError(text, "unknown policy in '\(word)'")
                }
                policy = parsed
            } else if word.contains("://") {
                specs.append(word)
            } else {
                guard !specs.isEmpty else { throw UpstreamAddressError(text, "option '\(word)' before any upstream") }
                specs[specs.count - 1] += " " + word
            }
        }
        guard !specs.isEmpty else { throw UpstreamAddressError(text, "no upstream for \(domain)") }
        self.domain = domain
        self.upstreams = try specs.map { (spec) throws(UpstreamAddressError) in try UpstreamSpec(parsing: spec) }
        self.policy = policy
    }

    public var description: String {
        ([self.domain.description] + self.upstreams.map(\.description)
            + (self.policy == .sequential ? [] : ["policy=\(self.policy)"])).joined(separator: " ")
    }
}
