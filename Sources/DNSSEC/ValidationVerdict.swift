public import DNSWire

/// Why an answer failed validation; each reason is reported as its Extended DNS Error (RFC 8914).
public enum BogusReason: String, Error, Sendable, Hashable, CaseIterable {
    /// A signature that does not verify, a DS or DNSKEY set that does not hold together, a broken chain.
    case bogus
    case signatureExpired = "signature_expired"
    case signatureNotYetValid = "signature_not_yet_valid"
    /// No DNSKEY matches the DS records or the key tag of a signature.
    case dnskeyMissing = "dnskey_missing"
    /// Data from a signed zone without a signature by it.
    case rrsigsMissing = "rrsigs_missing"
    /// A negative answer or wildcard expansion from a signed zone without the NSEC or NSEC3 proof.
    case nsecMissing = "nsec_missing"

    /// The Extended DNS Error sent with the SERVFAIL.
    public var extendedError: DNSExtendedErrorCode {
        switch self {
        case .bogus: return .dnssecBogus
        case .signatureExpired: return .signatureExpired
        case .signatureNotYetValid: return .signatureNotYetValid
        case .dnskeyMissing: return .dnskeyMissing
        case .rrsigsMissing: return .rrsigsMissing
        case .nsecMissing: return .nsecMissing
        }
    }
}

/// What validation found for an answer (RFC 4033 §5).
enum ValidationVerdict: Sendable, Hashable {
    /// A chain of signatures from a trust anchor covers the answer.
    case secure
    /// The answer comes from a zone proven unsigned (or signed only with algorithms dnsgate does not check, or
    /// exempt by a negative trust anchor).
    case insecure
    /// The answer should be signed and is not, or its signatures or proofs do not hold.
    case bogus(BogusReason)
    /// There was nothing to validate: the upstream failed (SERVFAIL, REFUSED, ...).
    case indeterminate

    /// The worse of two verdicts: bogus over insecure over secure.
    func combined(with other: ValidationVerdict) -> ValidationVerdict {
        switch (self, other) {
        case (.bogus, _): return self
        case (_, .bogus): return other
        case (.indeterminate, _), (_, .indeterminate): return .indeterminate
        case (.insecure, _), (_, .insecure): return .insecure
        default: return .secure
        }
    }
}

/// How the zone that holds a name stands.
enum ZoneSecurity: Sendable {
    /// The name is in `zone`, whose DNSKEY set (`keys`) is proven from a trust anchor.
    case secure(zone: DNSName, keys: [DNSKEYRecord])
    /// The name is below a proven insecure delegation, outside every trust anchor, or under a negative trust anchor.
    case insecure
    /// The chain down to the name is broken.
    case bogus(BogusReason)
}
