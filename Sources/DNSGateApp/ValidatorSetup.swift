import Config
import DNSCore
import DNSSEC
import DNSWire
import Foundation
import NIOCore

/// The validator's settings from the configuration: the trust anchors read from their files (or the root's built
/// in), and the zones exempt from validation: negative trust anchors and conditionally forwarded zones, which are
/// usually private and would turn bogus where the public root denies them, unless an anchor is configured for them.
enum ValidatorSetup {
    /// The settings, or nil when validation is off; throws when an anchor file cannot be read or parsed.
    static func settings(for config: DNSGateConfig) throws -> ValidatorSettings? {
        guard let dnssec = config.dnssec else { return nil }
        var anchors = TrustAnchors.root
        if !dnssec.trustAnchorFiles.isEmpty {
            var text = ""
            for path in dnssec.trustAnchorFiles {
                do {
                    text += try String(contentsOfFile: path, encoding: .utf8) + "\n"
                } catch {
                    throw ConfigError(key: "dnssec.trust_anchors", value: path, allowed: "a readable file")
                }
            }
            do {
                anchors = try TrustAnchors(zoneFile: text)
            } catch {
                throw ConfigError(key: "dnssec.trust_anchors", value: dnssec.trustAnchorFiles.joined(separator: ", "),
                                  allowed: "DS or DNSKEY records in zone-file form (\(error))")
            }
        }
        let privateZones = config.forwarding.map(\.domain).filter { !anchors.anchors(within: $0) }
        return ValidatorSettings(
            anchors: anchors, exemptions: dnssec.negativeTrustAnchors + privateZones, bogusTTL: dnssec.bogusTTL,
            clockSkew: UInt32(clamping: dnssec.clockSkew.nanoseconds / 1_000_000_000))
    }
}
