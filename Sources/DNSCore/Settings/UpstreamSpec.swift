import Foundation

/// One configured upstream: its URL and its options, written after the URL as `key=value` words:
/// `tls://9.9.9.9#dns.quad9.net weight=3`.
public struct UpstreamSpec: Hashable, Sendable, CustomStringConvertible {
    public var address: UpstreamAddress
    /// Its share of queries under the `weighted` policy (1 to 1000).
    public var weight: Int
    /// For DoH: whether queries are sent with GET (`method=get`) rather than POST.
    public var usesGET: Bool
    /// Whether queries are padded (RFC 7830, 128-octet blocks per RFC 8467): `padding=on|off`, on by default for
    /// the encrypted transports, where it hides the length of the name asked.
    public var padsQueries: Bool
    /// For TLS and DoH: `profile=strict|opportunistic`, `pin_sha256=BASE64` (repeatable) and `ca=off` (pins
    /// instead of the certificate chain).
    public var authentication: UpstreamAuthentication
    /// For TLS and DoH: whether reconnects resume the TLS session the server issued (`resume=on|off`, on by
    /// default). Off, no two connections can be linked by their session, at the cost of a full handshake each.
    public var resumesTLSSessions: Bool

    public init(address: UpstreamAddress, weight: Int = 1, usesGET: Bool = false, padsQueries: Bool? = nil,
                authentication: UpstreamAuthentication = UpstreamAuthentication(), resumesTLSSessions: Bool = true) {
        self.address = address
        self.weight = weight
        self.usesGET = usesGET
        self.padsQueries = padsQueries ?? address.transport.usesTLS
        self.authentication = authentication
        self.resumesTLSSessions = resumesTLSSessions
    }

    /// The option names an upstream accepts after its URL.
    public static let optionNames = ["weight", "method", "padding", "profile", "pin_sha256", "ca", "resume"]

    /// Parses `URL [key=value ...]`.
    public init(parsing text: String) throws(UpstreamAddressError) {
        let words = text.split(separator: " ", omittingEmptySubsequences: true)
        guard let url = words.first else { throw UpstreamAddressError(text, "empty upstream") }
        self.init(address: try UpstreamAddress(parsing: String(url)))
        for word in words.dropFirst() {
            guard let equals = word.firstIndex(of: "=") else {
                throw UpstreamAddressError(text, "option '\(word)' is not key=value")
            }
            let key = String(word[..<equals])
            let value = String(word[word.index(after: equals)...])
            switch key {
            case "weight":
                guard let weight = Int(value), (1...1000).contains(weight) else {
                    throw UpstreamAddressError(text, "weight '\(value)' is not a whole number from 1 to 1000")
                }
                self.weight = weight
            case "method":
                guard self.address.transport == .https, ["get", "post"].contains(value.lowercased()) else {
                    throw UpstreamAddressError(text, "method=get or method=post, for https:// upstreams only")
                }
                self.usesGET = value.lowercased() == "get"
            case "padding":
                guard ["on", "off"].contains(value.lowercased()) else {
                    throw UpstreamAddressError(text, "padding=on or padding=off")
                }
                self.padsQueries = value.lowercased() == "on"
            case "resume":
                guard self.address.transport.usesTLS, ["on", "off"].contains(value.lowercased()) else {
                    throw UpstreamAddressError(
                        text, "resume=on or resume=off, for tls://, https:// and quic:// upstreams only")
                }
                self.resumesTLSSessions = value.lowercased() == "on"
            case "profile", "pin_sha256", "ca":
                guard self.address.transport.usesTLS else {
                    throw UpstreamAddressError(text, "\(key)= is for tls://, https:// and quic:// upstreams only")
                }
                try self.authentication.apply(key, value, in: text)
            default:
                throw UpstreamAddressError(
                    text, "unknown option '\(key)' (allowed: \(Self.optionNames.joined(separator: ", ")))")
            }
        }
        if !self.authentication.verifiesChain, self.authentication.pins.isEmpty {
            throw UpstreamAddressError(text, "ca=off needs at least one pin_sha256")
        }
        if self.authentication.profile == .opportunistic, !self.authentication.pins.isEmpty {
            throw UpstreamAddressError(text, "pins need the strict profile")
        }
    }

    public var description: String {
        var text = self.address.description
        if self.weight != 1 { text += " weight=\(self.weight)" }
        if self.usesGET { text += " method=get" }
        if self.padsQueries != self.address.transport.usesTLS { text += " padding=\(self.padsQueries ? "on" : "off")" }
        if self.authentication.profile == .opportunistic { text += " profile=opportunistic" }
        for pin in self.authentication.pins { text += " pin_sha256=" + Data(pin).base64EncodedString() }
        if !self.authentication.verifiesChain { text += " ca=off" }
        if !self.resumesTLSSessions { text += " resume=off" }
        return text
    }
}
