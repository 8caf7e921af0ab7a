import DNSWire

/// What the answer to a DS query says about a name one label below a secure zone (RFC 4035 §5.2).
enum DelegationFinding: Sendable {
    /// The name is a signed delegation: its DS set, authenticated by the parent, and how long it may be trusted.
    case signed([DSRecord], ttl: UInt32)
    /// A delegation without DS, or with DS for nothing dnsgate can check: the zone below is unsigned.
    case insecure(ttl: UInt32)
    /// The name is inside the parent's zone and no zone cut.
    case notACut(ttl: UInt32)
    /// The name does not exist, nor anything below it.
    case nonexistent(ttl: UInt32)
    case bogus(BogusReason)
}

/// The steps of a chain of trust: a DS answer checked with the parent zone's keys, a DNSKEY answer checked with the
/// DS set (or trust anchor) that vouches for it.
struct DelegationCheck: Sendable {
    let validator: ResponseValidator

    init(validator: ResponseValidator) {
        self.validator = validator
    }

    /// Classifies `answer`, the response to `DS? name` where `name` is one label below a name in `zone`, whose keys
    /// are `keys`.
    func classifyDS(_ answer: DNSMessage, name: DNSName, zone: DNSName, keys: [DNSKEYRecord])
        -> DelegationFinding
    {
        let checker = self.validator.checker
        let rcode = DNSRCode(answer.flags & 0x000F)
        let answers = SignedRRset.group(answer.answers)
        let authorities = SignedRRset.group(answer.authorities)
        if rcode == .noError, let set = answers.first(where: { $0.owner == name && $0.type == .ds }) {
            switch checker.check(set, keys: keys, signer: zone) {
            case .failure(let reason): return .bogus(reason)
            case .success(let signature):
                let records = set.rdatas.compactMap(DSRecord.init(rdata:))
                let ttl = min(set.ttl, signature.originalTTL)
                return records.contains(where: \.isSupported) ? .signed(records, ttl: ttl) : .insecure(ttl: ttl)
            }
        }
        if rcode == .noError, let cname = answers.first(where: { $0.owner == name && $0.type == .cname }) {
            guard case .success = checker.check(cname, keys: keys, signer: zone) else { return .bogus(.bogus) }
            return .notACut(ttl: cname.ttl)
        }
        guard rcode == .noError || rcode == .nxDomain else { return .bogus(.bogus) }
        let ttl = authorities.first { $0.type == .soa }?.ttl ?? 60
        if let soa = authorities.first(where: { $0.type == .soa }),
           case .failure(let reason) = checker.check(soa, keys: keys, signer: zone) {
            return .bogus(reason)
        }
        let proof = self.validator.denialProof(zone: zone, keys: keys, authorities: authorities)
        switch proof.dsAbsence(name) {
        case .insecureDelegation: return .insecure(ttl: ttl)
        case .notACut: return .notACut(ttl: ttl)
        case .nonexistent: return .nonexistent(ttl: ttl)
        case .missing: return .bogus(.nsecMissing)
        }
    }

    /// The security of `zone` from `answer`, the response to `DNSKEY? zone`, given the DS set or trust anchor keys
    /// that vouch for it, and how long it may be trusted.
    func classifyDNSKEY(_ answer: DNSMessage, zone: DNSName, ds: [DSRecord], anchorKeys: [DNSKEYRecord] = [])
        -> (ZoneSecurity, ttl: UInt32)
    {
        let supportedDS = ds.filter(\.isSupported)
        let supportedAnchors = anchorKeys.filter { DNSSECAlgorithm.isSupported($0.algorithm) }
        guard !supportedDS.isEmpty || !supportedAnchors.isEmpty else { return (.insecure, 3600) }
        guard let set = SignedRRset.group(answer.answers).first(where: { $0.owner == zone && $0.type == .dnskey })
        else { return (.bogus(.dnskeyMissing), 0) }
        let keys = set.rdatas.compactMap(DNSKEYRecord.init(rdata:)).filter { $0.isZoneKey && !$0.isRevoked }
        let entryPoints = keys.filter { key in
            supportedDS.contains { $0.matches(key, owner: zone) } || supportedAnchors.contains { $0.rdata == key.rdata }
        }
        guard !entryPoints.isEmpty else { return (.bogus(.dnskeyMissing), 0) }
        switch self.validator.checker.check(set, keys: entryPoints, signer: zone) {
        case .failure(let reason):
            return (.bogus(reason), 0)
        case .success(let signature):
            let ttl = min(set.ttl, signature.originalTTL, self.validator.checker.remainingLifetime(of: signature))
            return (.secure(zone: zone, keys: keys), ttl)
        }
    }
}
