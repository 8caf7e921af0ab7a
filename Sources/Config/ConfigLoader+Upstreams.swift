import DNSCore
import DNSWire
import NIOCore

/// The upstreams, their trust anchors and their connection settings.
extension ConfigLoader {
    static let upstreamKeys = [
        "upstreams", "tls.ca_files", "upstream.attempt_timeout", "upstream.connect_timeout", "upstream.idle_timeout",
        "upstream.connections_per_thread", "upstream.queries_per_connection", "upstream.max_in_flight", "upstream.policy", "upstream.hedging",
        "upstream.health.max_failures", "upstream.health.backoff", "upstream.health.check_interval",
        "upstream.health.check_query", "bootstrap",
    ]

    /// Plain-DNS servers that resolve upstream host names: IP literals only, UDP or TCP.
    static func bootstrapServers(_ values: ConfigValues) throws -> [UpstreamAddress] {
        try values.list("bootstrap", default: [], allowEmpty: true).map { text in
            guard let address = try? UpstreamAddress(parsing: text), address.hostIsIPLiteral,
                address.transport == .udp || address.transport == .tcp
            else {
                throw ConfigError(key: "bootstrap", value: text, allowed: "udp://IP[:port] or tcp://IP[:port]")
            }
            return address
        }
    }

    static func upstreams(_ values: ConfigValues) throws -> [UpstreamSpec] {
        try values.list("upstreams", default: DNSGateConfig.defaultUpstreams).map { text in
            do {
                let spec = try UpstreamSpec(parsing: text)
                let address = spec.address
                if address.transport.usesTLS, let name = address.tlsName,
                    UpstreamAddress(transport: .tcp, host: name).hostIsIPLiteral
                {
                    throw ConfigError(key: "upstreams", value: text,
                                      allowed: "the name after # must be a DNS name, not an IP address")
                }
                return spec
            } catch let error as UpstreamAddressError {
                throw ConfigError(key: "upstreams", value: text, allowed: error.reason)
            }
        }
    }

    static func upstreamSelection(_ values: ConfigValues) throws -> UpstreamSelectionSettings {
        let policyText = try values.scalar("upstream.policy") ?? "sequential"
        guard let policy = SelectionPolicy(rawValue: policyText.lowercased()) else {
            throw ConfigError(key: "upstream.policy", value: policyText,
                              allowed: SelectionPolicy.allCases.map(\.rawValue).joined(separator: ", "))
        }
        let checkQuery = try values.scalar("upstream.health.check_query") ?? ". NS"
        let words = checkQuery.split(separator: " ")
        guard words.count == 2, let name = DNSName(words[0].hasSuffix(".") ? String(words[0]) : words[0] + "."),
            let type = DNSType(mnemonic: String(words[1]))
        else {
            throw ConfigError(key: "upstream.health.check_query", value: checkQuery,
                              allowed: "a name and a type, such as '. NS' or 'example.com A'")
        }
        return UpstreamSelectionSettings(
            policy: policy,
            hedging: try values.bool("upstream.hedging", default: false),
            health: UpstreamHealthSettings(
                failureThreshold: try values.int("upstream.health.max_failures", default: 3, in: 1...1000),
                initialBackoff: try values.duration("upstream.health.backoff", default: .seconds(1))),
            check: try values.scalar("upstream.health.check_interval") == nil ? nil : HealthCheck(
                interval: try values.duration("upstream.health.check_interval", default: .seconds(10)),
                name: name, type: type))
    }
}
