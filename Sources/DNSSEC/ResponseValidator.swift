import DNSWire

/// Validates one answer (RFC 4035 §5) once the security of every zone it touches is known: the data along the
/// CNAME and DNAME chain from the question, wildcard expansions, and the denial of whatever is missing at its end.
/// Pure: the zones come from `security`, which the caller fills by fetching DS and DNSKEY sets first
/// (``ParsedAnswer/requiredNames`` says which).
struct ResponseValidator: Sendable {
    let checker: SignatureChecker
    let iterationLimit: UInt16

    init(checker: SignatureChecker, iterationLimit: UInt16 = 150) {
        self.checker = checker
        self.iterationLimit = iterationLimit
    }

    /// The verdict on `answer`, given the security of the zones of its ``ParsedAnswer/requiredNames``.
    func validate(_ answer: ParsedAnswer, security: (DNSName) -> ZoneSecurity) -> ValidationVerdict {
        guard answer.rcode == .noError || answer.rcode == .nxDomain else { return .indeterminate }
        let authorities = answer.authorities
        let chain = answer.chain
        var verdict = ValidationVerdict.secure
        for (set, name) in chain.links {
            verdict = verdict.combined(with: self.check(set, name: name, authorities: authorities, security: security))
            if case .bogus = verdict { return verdict }
        }
        if let data = chain.data {
            return verdict.combined(with: self.check(data, name: chain.end, authorities: authorities,
                                                     security: security))
        }
        return verdict.combined(with: self.checkDenial(of: chain.end, type: answer.question.type, rcode: answer.rcode,
                                                        authorities: authorities, security: security))
    }

    /// The path from the question's name through CNAMEs and DNAMEs to the data, or to the name that has none.
    struct Chain {
        /// Each CNAME or DNAME followed, with the name it was followed from.
        var links: [(SignedRRset, DNSName)] = []
        /// The owners of the CNAMEs that DNAMEs in `links` stand for (unsigned by design, RFC 6672 §5.3.1).
        var synthesized: Set<DNSName> = []
        /// The last name reached.
        var end: DNSName
        /// The set of the asked type at `end`, if the answer has one.
        var data: SignedRRset?

        init(answers: [SignedRRset], question: DNSQuestion) {
            var current = question.name
            var visited: Set<DNSName> = []
            while visited.insert(current).inserted, visited.count <= 16 {
                if let data = answers.first(where: {
                    $0.owner == current && ($0.type == question.type || question.type == .any)
                }) {
                    self.end = current
                    self.data = data
                    return
                }
                if question.type != .dname,
                   let dname = answers.first(where: {
                       $0.type == .dname && current.isSubdomain(of: $0.owner) && current != $0.owner
                   }),
                   let target = ResponseValidator.substitute(current, dname: dname) {
                    self.links.append((dname, current))
                    self.synthesized.insert(current)
                    current = target
                    continue
                }
                if question.type != .cname,
                   let cname = answers.first(where: { $0.owner == current && $0.type == .cname }),
                   let rdata = cname.rdatas.first, let (target, _) = NameScanner.name(in: rdata, at: 0) {
                    self.links.append((cname, current))
                    current = target
                    continue
                }
                break
            }
            self.end = current
        }
    }

    /// The zone a negative answer's SOA or proofs were signed by.
    static func denyingSigner(_ authorities: [SignedRRset]) -> DNSName? {
        authorities.first { ($0.type == .soa || $0.type == .nsec || $0.type == .nsec3) && !$0.signatures.isEmpty }?
            .signers.first
    }

    /// The verdict on one RRset met along the chain at `name`.
    private func check(_ set: SignedRRset, name: DNSName, authorities: [SignedRRset],
                       security: (DNSName) -> ZoneSecurity) -> ValidationVerdict {
        guard !set.signatures.isEmpty else {
            switch security(set.owner) {
            case .insecure: return .insecure
            case .bogus(let reason): return .bogus(reason)
            case .secure: return .bogus(.rrsigsMissing)
            }
        }
        var verdict = ValidationVerdict.bogus(.rrsigsMissing)
        for signer in set.signers {
            switch security(signer) {
            case .insecure:
                verdict = .insecure
            case .bogus(let reason):
                verdict = .bogus(reason)
            case .secure(let zone, let keys):
                guard zone == signer else {
                    verdict = .bogus(.bogus)
                    continue
                }
                switch self.checker.check(set, keys: keys, signer: signer) {
                case .failure(let reason):
                    verdict = .bogus(reason)
                case .success(let signature):
                    guard let source = set.wildcardSource(signature) else { return .secure }
                    let proof = self.denialProof(zone: zone, keys: keys, authorities: authorities)
                    switch proof.wildcardExpansion(name, source: source) {
                    case .proven: return .secure
                    case .insecure: return .insecure
                    case .missing: verdict = .bogus(.nsecMissing)
                    }
                }
            }
            if verdict == .insecure { return verdict }
        }
        return verdict
    }

    /// The verdict on the absence of `type` at `name` (or of `name` itself, for NXDOMAIN).
    private func checkDenial(of name: DNSName, type: DNSType, rcode: DNSRCode, authorities: [SignedRRset],
                             security: (DNSName) -> ZoneSecurity) -> ValidationVerdict {
        // The zone that must deny it is the one the SOA or the proofs were signed by, or the name's own.
        switch security(Self.denyingSigner(authorities) ?? name) {
        case .insecure: return .insecure
        case .bogus(let reason): return .bogus(reason)
        case .secure(let zone, let keys):
            guard name.isSubdomain(of: zone) else { return .bogus(.bogus) }
            if let soa = authorities.first(where: { $0.type == .soa }),
               case .failure(let reason) = self.checker.check(soa, keys: keys, signer: zone) {
                return .bogus(reason)
            }
            let proof = self.denialProof(zone: zone, keys: keys, authorities: authorities)
            let outcome = rcode == .nxDomain ? proof.nameError(name) : proof.noData(name, type: type)
            switch outcome {
            case .proven: return .secure
            case .insecure: return .insecure
            case .missing: return .bogus(.nsecMissing)
            }
        }
    }

    /// The NSEC and NSEC3 sets in `authorities` whose signatures by `zone` verify.
    func denialProof(zone: DNSName, keys: [DNSKEYRecord], authorities: [SignedRRset]) -> DenialProof {
        let verified = authorities.filter { set in
            (set.type == .nsec || set.type == .nsec3)
                && (try? self.checker.check(set, keys: keys, signer: zone).get()) != nil
        }
        return DenialProof(zone: zone, sets: verified, iterationLimit: self.iterationLimit)
    }

    /// The name a DNAME turns `name` into (RFC 6672 §2.2), or nil when it would be too long.
    static func substitute(_ name: DNSName, dname: SignedRRset) -> DNSName? {
        guard let rdata = dname.rdatas.first, let (target, _) = NameScanner.name(in: rdata, at: 0) else { return nil }
        let kept = name.labels.dropLast(dname.owner.labelCount)
        var wire: [UInt8] = []
        for label in kept {
            wire.append(UInt8(label.count))
            wire.append(contentsOf: label)
        }
        return DNSName(wire: wire + target.wire)
    }
}
