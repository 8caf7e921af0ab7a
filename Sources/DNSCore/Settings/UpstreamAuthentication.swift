import Foundation

/// How an encrypted upstream proves who it is (RFC 8310 usage profiles, RFC 7858 §4.2 SPKI pins).
public struct UpstreamAuthentication: Sendable, Hashable {
    /// RFC 8310 §5: strict sends nothing to a server it could not authenticate; opportunistic encrypts without
    /// authenticating (it protects against passive observers only).
    public enum Profile: String, Sendable, Hashable {
        case strict
        case opportunistic
    }

    public var profile: Profile
    /// SHA-256 digests of the SubjectPublicKeyInfo the server's certificate must carry (one match suffices).
    public var pins: [[UInt8]]
    /// Whether the certificate chain and name are verified against the trust anchors; with pins, `false` makes the
    /// pins the only check (a self-signed server).
    public var verifiesChain: Bool

    public init(profile: Profile = .strict, pins: [[UInt8]] = [], verifiesChain: Bool = true) {
        self.profile = profile
        self.pins = pins
        self.verifiesChain = verifiesChain
    }

    /// Whether the certificate chain is checked during the handshake.
    public var checksCertificates: Bool { self.profile == .strict && self.verifiesChain }
}

extension UpstreamAuthentication {
    /// Applies one upstream option (`profile=`, `pin_sha256=`, `ca=`) written in `text`.
    mutating func apply(_ key: String, _ value: String, in text: String) throws(UpstreamAddressError) {
        switch key {
        case "profile":
            guard let profile = Profile(rawValue: value.lowercased()) else {
                throw UpstreamAddressError(text, "profile=strict or profile=opportunistic")
            }
            self.profile = profile
        case "pin_sha256":
            guard let digest = Data(base64Encoded: value).map(Array.init), digest.count == 32 else {
                throw UpstreamAddressError(text, "pin_sha256 '\(value)' is not the base64 of a SHA-256 digest")
            }
            self.pins.append(digest)
        default:
            guard ["on", "off"].contains(value.lowercased()) else { throw UpstreamAddressError(text, "ca=on or ca=off") }
            self.verifiesChain = value.lowercased() == "on"
        }
    }
}
