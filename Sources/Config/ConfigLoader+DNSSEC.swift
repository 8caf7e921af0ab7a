import DNSCore
import DNSWire
import NIOCore

/// DNSSEC validation (`dnssec.*`), off by default.
extension ConfigLoader {
    static let dnssecKeys = ["dnssec.validate", "dnssec.trust_anchors", "dnssec.negative_trust_anchors",
                             "dnssec.bogus_ttl", "dnssec.clock_skew"]

    /// The settings, or nil when `dnssec.validate` is off.
    static func dnssec(_ values: ConfigValues) throws -> DNSSECSettings? {
        guard try values.bool("dnssec.validate", default: false) else { return nil }
        let zones = try values.list("dnssec.negative_trust_anchors", default: [], allowEmpty: true)
        let negative = try zones.map { text throws(ConfigError) -> DNSName in
            guard let name = DNSName(text) else {
                throw ConfigError(key: "dnssec.negative_trust_anchors", value: text, allowed: "a domain name")
            }
            return name
        }
        return DNSSECSettings(
            trustAnchorFiles: try values.list("dnssec.trust_anchors", default: [], allowEmpty: true),
            negativeTrustAnchors: negative,
            bogusTTL: try values.duration("dnssec.bogus_ttl", default: .seconds(60)),
            clockSkew: try values.duration("dnssec.clock_skew", default: .seconds(300)))
    }
}
