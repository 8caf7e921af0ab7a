import DNSWire

/// Checks RRSIGs over an RRset (RFC 4035 §5.3) at one moment.
struct SignatureChecker: Sendable {
    /// Seconds since the epoch, modulo 2^32 like RRSIG times (RFC 4034 §3.1.5).
    let now: UInt32
    /// How far outside its inception-expiration window a signature is still accepted, for clocks that disagree.
    let skew: UInt32

    init(now: UInt32, skew: UInt32) {
        self.now = now
        self.skew = skew
    }

    /// Signature verifications one RRset may cost at most. A zone whose keys share a tag, signing its data with
    /// many RRSIGs, could otherwise make one answer cost thousands of them (KeyTrap, CVE-2023-50387); real sets
    /// need one or two.
    static let verificationLimit = 8

    /// The first RRSIG by `signer` over `set` that verifies with one of `keys`, or the reason none does.
    func check(_ set: SignedRRset, keys: [DNSKEYRecord], signer: DNSName) -> Result<RRSIGRecord, BogusReason> {
        var failure: BogusReason = .rrsigsMissing
        var verifications = 0
        func note(_ reason: BogusReason) {
            // The most telling reason wins: a signature that failed over a window or a key that was missing.
            let rank: [BogusReason: Int] = [.rrsigsMissing: 0, .dnskeyMissing: 1, .signatureNotYetValid: 2,
                                            .signatureExpired: 2, .bogus: 3]
            if rank[reason, default: 0] > rank[failure, default: 0] { failure = reason }
        }
        let ownerLabels = set.owner.isWildcard ? set.owner.labelCount - 1 : set.owner.labelCount
        for signature in set.signatures where signature.signerName == signer {
            guard DNSSECAlgorithm.isSupported(signature.algorithm) else { continue }
            guard signature.typeCovered == set.type, set.owner.isSubdomain(of: signer),
                  Int(signature.labels) <= ownerLabels
            else {
                note(.bogus)
                continue
            }
            if Int32(bitPattern: self.now &+ self.skew &- signature.inception) < 0 {
                note(.signatureNotYetValid)
                continue
            }
            if Int32(bitPattern: signature.expiration &+ self.skew &- self.now) < 0 {
                note(.signatureExpired)
                continue
            }
            let candidates = keys.filter {
                $0.algorithm == signature.algorithm && $0.keyTag == signature.keyTag && $0.isZoneKey
                    && !$0.isRevoked && $0.protocol == 3
            }
            guard !candidates.isEmpty else {
                note(.dnskeyMissing)
                continue
            }
            let data = set.signedData(signature)
            for key in candidates {
                guard verifications < Self.verificationLimit else { return .failure(.bogus) }
                verifications += 1
                if key.verifier?.verify(signature: signature.signature, data: data) == true { return .success(signature) }
            }
            note(.bogus)
        }
        return .failure(failure)
    }

    /// Seconds `signature` has left, for capping the TTLs of what it covers.
    func remainingLifetime(of signature: RRSIGRecord) -> UInt32 {
        let left = Int32(bitPattern: signature.expiration &- self.now)
        return left > 0 ? UInt32(left) : 0
    }
}
