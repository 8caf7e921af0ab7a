import DNSUpstream

/// The upstreams, their trust anchors and their connection settings.
extension ConfigLoader {
    static let upstreamKeys = [
        "upstreams", "tls.ca_files", "upstream.attempt_timeout", "upstream.connect_timeout", "upstream.idle_timeout",
        "upstream.connections_per_thread", "upstream.max_in_flight",
    ]

    static func upstreams(_ values: ConfigValues) throws -> [UpstreamAddress] {
        try values.list("upstreams", default: DNSGateConfig.defaultUpstreams).map { text in
            do {
                let address = try UpstreamAddress(parsing: text)
                if address.transport == .tls, let name = address.tlsName,
                    UpstreamAddress(transport: .tcp, host: name).hostIsIPLiteral
                {
                    throw ConfigError(key: "upstreams", value: text,
                                      allowed: "the name after # must be a DNS name, not an IP address")
                }
                return address
            } catch let error as UpstreamAddressError {
                throw ConfigError(key: "upstreams", value: text, allowed: error.reason)
            }
        }
    }
}
