import DNSWire

/// What a denial proof established.
enum DenialOutcome: Sendable, Equatable {
    case proven
    /// The proof holds only as far as an Opt-Out span or an NSEC3 iteration count over the limit allows: insecure.
    case insecure
    /// No proof, or one that does not cover the name.
    case missing
}

/// How a DS query's negative answer places a name (RFC 4035 §5.2, RFC 5155 §8.6).
enum DSAbsence: Sendable, Equatable {
    /// The name is a delegation without DS: everything below it is unsigned.
    case insecureDelegation
    /// The name exists in the parent's zone and is no delegation.
    case notACut
    /// The name does not exist.
    case nonexistent
    case missing
}

/// The authenticated NSEC and NSEC3 records of one zone from a response, and the proofs they make (RFC 4035 §5.4,
/// RFC 5155 §8, RFC 7129).
struct DenialProof: Sendable {
    let zone: DNSName
    private let nsecs: [(owner: DNSName, record: NSECRecord)]
    private let nsec3s: [(hash: [UInt8], record: NSEC3Record)]
    /// NSEC3 records iterated more often than this prove nothing securely (RFC 9276 §3.2).
    private let iterationLimit: UInt16
    /// How many ancestors of a name the closest encloser search hashes at most.
    static let encloserSearchLimit = 16
    /// NSEC3 records taken from one answer at most: a proof needs three.
    static let nsec3RecordLimit = 8

    /// `sets` are RRsets whose signatures by `zone` have been checked; others must not be passed.
    init(zone: DNSName, sets: [SignedRRset], iterationLimit: UInt16) {
        self.zone = zone
        self.iterationLimit = iterationLimit
        var nsecs: [(owner: DNSName, record: NSECRecord)] = []
        var nsec3s: [(hash: [UInt8], record: NSEC3Record)] = []
        for set in sets where set.owner.isSubdomain(of: zone) {
            for rdata in set.rdatas {
                if set.type == .nsec, let record = NSECRecord(rdata: rdata) {
                    nsecs.append((set.owner, record))
                } else if set.type == .nsec3, nsec3s.count < Self.nsec3RecordLimit,
                          let record = NSEC3Record(rdata: rdata), record.hashAlgorithm == NSEC3Hash.sha1,
                          set.owner.parent == zone, let label = set.owner.labels.first,
                          let hash = NSEC3Hash.decodeBase32Hex(label), hash.count == record.nextHashedOwner.count,
                          nsec3s.first.map({ $0.record.salt == record.salt
                              && $0.record.iterations == record.iterations }) ?? true {
                    // One zone's NSEC3 records share their parameters (RFC 5155 §7.1): each name is hashed once.
                    nsec3s.append((hash, record))
                }
            }
        }
        self.nsecs = nsecs
        self.nsec3s = nsec3s
    }

    /// Whether there is any proof material at all.
    var isEmpty: Bool { self.nsecs.isEmpty && self.nsec3s.isEmpty }

    private var nsec3OverLimit: Bool { self.nsec3s.contains { $0.record.iterations > self.iterationLimit } }

    // MARK: Proofs

    /// `name` does not exist, nor does a wildcard that could stand for it (NXDOMAIN).
    func nameError(_ name: DNSName) -> DenialOutcome {
        if let cover = self.nsecCovering(name) {
            let encloser = self.closestEncloser(of: name, cover: cover)
            guard let wildcard = encloser.wildcard else { return .missing }
            if self.nsecMatching(wildcard) != nil { return .missing }
            return self.nsecCovering(wildcard) != nil ? .proven : .missing
        }
        guard !self.nsec3s.isEmpty else { return .missing }
        if self.nsec3OverLimit { return .insecure }
        guard let (encloser, nextCloser) = self.nsec3ClosestEncloser(of: name),
              let wildcard = encloser.wildcard, self.nsec3Covering(wildcard) != nil
        else { return .missing }
        return nextCloser.optOut ? .insecure : .proven
    }

    /// `name` exists without data of `type`, or is an empty non-terminal, or matches a wildcard without it (NODATA).
    func noData(_ name: DNSName, type: DNSType) -> DenialOutcome {
        func lacks(_ types: TypeBitmap) -> Bool {
            !types.contains(type) && !types.contains(.cname) && (type == .ds || !types.isDelegation)
        }
        if let match = self.nsecMatching(name) {
            return lacks(match.types) ? .proven : .missing
        }
        if let cover = self.nsecCovering(name) {
            // An empty non-terminal: the next name is below the name asked about (RFC 4035 §3.1.3.2).
            if cover.record.nextName.isSubdomain(of: name), cover.record.nextName != name { return .proven }
            let encloser = self.closestEncloser(of: name, cover: cover)
            if let wildcard = encloser.wildcard, let match = self.nsecMatching(wildcard), lacks(match.types) {
                return .proven
            }
            return .missing
        }
        guard !self.nsec3s.isEmpty else { return .missing }
        if self.nsec3OverLimit { return .insecure }
        if let match = self.nsec3Matching(name) {
            return lacks(match.types) ? .proven : .missing
        }
        guard let (encloser, nextCloser) = self.nsec3ClosestEncloser(of: name) else { return .missing }
        if type == .ds, nextCloser.optOut { return .insecure }
        if let wildcard = encloser.wildcard, let match = self.nsec3Matching(wildcard), lacks(match.types) {
            return .proven
        }
        return .missing
    }

    /// `name` itself does not exist in a zone that answered for it from the wildcard at `source` (RFC 4035 §5.3.4,
    /// RFC 5155 §8.8).
    func wildcardExpansion(_ name: DNSName, source: DNSName) -> DenialOutcome {
        if self.nsecCovering(name) != nil { return .proven }
        guard !self.nsec3s.isEmpty, let encloser = source.parent, name.labelCount > encloser.labelCount else {
            return .missing
        }
        if self.nsec3OverLimit { return .insecure }
        let nextCloser = name.suffix(labels: encloser.labelCount + 1)
        return self.nsec3Covering(nextCloser) != nil ? .proven : .missing
    }

    /// Where a negative answer to a DS query for `name` places it.
    func dsAbsence(_ name: DNSName) -> DSAbsence {
        func place(_ types: TypeBitmap) -> DSAbsence {
            if types.contains(.ds) || types.contains(.soa) { return .missing }
            return types.contains(.ns) ? .insecureDelegation : .notACut
        }
        if let match = self.nsecMatching(name) { return place(match.types) }
        if let cover = self.nsecCovering(name) {
            let next = cover.record.nextName
            return next.isSubdomain(of: name) && next != name ? .notACut : .nonexistent
        }
        guard !self.nsec3s.isEmpty else { return .missing }
        if self.nsec3OverLimit { return .insecureDelegation }
        if let match = self.nsec3Matching(name) { return place(match.types) }
        guard let (_, nextCloser) = self.nsec3ClosestEncloser(of: name) else { return .missing }
        return nextCloser.optOut ? .insecureDelegation : .nonexistent
    }

    // MARK: NSEC

    private func nsecMatching(_ name: DNSName) -> NSECRecord? {
        self.nsecs.first { $0.owner == name }?.record
    }

    /// An NSEC whose span holds `name` strictly inside, and that may speak for it: not from above a delegation or
    /// DNAME that `name` is below (RFC 6840 §4.1).
    private func nsecCovering(_ name: DNSName) -> (owner: DNSName, record: NSECRecord)? {
        self.nsecs.first { entry in
            let owner = entry.owner
            let next = entry.record.nextName
            let afterOwner = DNSName.canonicalCompare(owner, name) < 0
            let beforeNext = DNSName.canonicalCompare(name, next) < 0
            let wraps = DNSName.canonicalCompare(next, owner) <= 0
            guard wraps ? (afterOwner || beforeNext) : (afterOwner && beforeNext) else { return false }
            if name.isSubdomain(of: owner), owner != name,
               entry.record.types.isDelegation || entry.record.types.contains(.dname) {
                return false
            }
            return true
        }
    }

    /// The closest encloser an NSEC covering `name` implies: the longest ancestor shared with its owner or next name.
    private func closestEncloser(of name: DNSName, cover: (owner: DNSName, record: NSECRecord)) -> DNSName {
        let viaOwner = name.commonAncestor(with: cover.owner)
        let viaNext = name.commonAncestor(with: cover.record.nextName)
        return viaOwner.labelCount >= viaNext.labelCount ? viaOwner : viaNext
    }

    // MARK: NSEC3

    /// `name` hashed with the parameters the records share.
    private func nsec3Hash(_ name: DNSName) -> [UInt8] {
        guard let record = self.nsec3s.first?.record else { return [] }
        return NSEC3Hash.hash(name, salt: record.salt, iterations: record.iterations)
    }

    private func nsec3Matching(_ name: DNSName) -> NSEC3Record? {
        let hash = self.nsec3Hash(name)
        return self.nsec3s.first { $0.hash == hash }?.record
    }

    private func nsec3Covering(_ name: DNSName) -> NSEC3Record? {
        let hash = self.nsec3Hash(name)
        return self.nsec3s.first { entry in
            let owner = entry.hash
            let next = entry.record.nextHashedOwner
            let afterOwner = owner.lexicographicallyPrecedes(hash)
            let beforeNext = hash.lexicographicallyPrecedes(next)
            let wraps = !owner.lexicographicallyPrecedes(next)
            return wraps ? (afterOwner || beforeNext) : (afterOwner && beforeNext)
        }?.record
    }

    /// The closest encloser proof (RFC 5155 §8.3): the longest existing ancestor of `name` and the NSEC3 that
    /// covers the next closer name below it. Looks at most ``encloserSearchLimit`` levels up: each costs hashes of
    /// up to 151 SHA-1 rounds, and a name hundreds of labels deep must not cost a validator tens of thousands of
    /// them (CVE-2023-50868); beyond that the proof counts as missing.
    private func nsec3ClosestEncloser(of name: DNSName) -> (DNSName, NSEC3Record)? {
        guard name.isSubdomain(of: self.zone), name.labelCount > self.zone.labelCount else { return nil }
        let lowest = max(self.zone.labelCount, name.labelCount - Self.encloserSearchLimit)
        for labels in stride(from: name.labelCount - 1, through: lowest, by: -1) {
            let candidate = name.suffix(labels: labels)
            guard let match = self.nsec3Matching(candidate) else { continue }
            if match.types.contains(.dname) || (match.types.isDelegation && candidate != self.zone) { return nil }
            guard let cover = self.nsec3Covering(name.suffix(labels: labels + 1)) else { return nil }
            return (candidate, cover)
        }
        return nil
    }
}
