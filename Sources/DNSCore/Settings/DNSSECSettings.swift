public import DNSWire
public import NIOCore

/// DNSSEC validation of upstream answers (`dnssec.*`).
public struct DNSSECSettings: Sendable, Hashable {
    /// Files of DS or DNSKEY records in zone-file form that replace the built-in root anchors; empty for the root's.
    public var trustAnchorFiles: [String]
    /// Zones not validated (RFC 7646).
    public var negativeTrustAnchors: [DNSName]
    /// How long a bogus verdict is kept, so that a broken zone costs one validation per this time.
    public var bogusTTL: TimeAmount
    /// How far outside its validity window a signature is still accepted.
    public var clockSkew: TimeAmount

    public init(trustAnchorFiles: [String] = [], negativeTrustAnchors: [DNSName] = [],
                bogusTTL: TimeAmount = .seconds(60), clockSkew: TimeAmount = .seconds(300)) {
        self.trustAnchorFiles = trustAnchorFiles
        self.negativeTrustAnchors = negativeTrustAnchors
        self.bogusTTL = bogusTTL
        self.clockSkew = clockSkew
    }
}
