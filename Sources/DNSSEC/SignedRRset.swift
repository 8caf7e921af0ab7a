import DNSWire

/// The records of one owner, type and class from a message, with the RRSIGs that cover them.
struct SignedRRset: Sendable {
    let owner: DNSName
    let type: DNSType
    let rrclass: DNSClass
    var rdatas: [[UInt8]]
    /// The smallest TTL among the records.
    var ttl: UInt32
    var signatures: [RRSIGRecord]

    /// The RRsets of `records` (RRSIGs attached to what they cover, never sets of their own), in first-seen order.
    static func group(_ records: [DNSRecord]) -> [SignedRRset] {
        var sets: [SignedRRset] = []
        var index: [Key: Int] = [:]
        for record in records where record.type != .rrsig && record.type != .opt {
            let key = Key(owner: record.name, type: record.type, rrclass: record.rrclass)
            if let position = index[key] {
                if !sets[position].rdatas.contains(record.rdata) { sets[position].rdatas.append(record.rdata) }
                sets[position].ttl = min(sets[position].ttl, record.ttl)
            } else {
                index[key] = sets.count
                sets.append(SignedRRset(owner: record.name, type: record.type, rrclass: record.rrclass,
                                        rdatas: [record.rdata], ttl: record.ttl, signatures: []))
            }
        }
        for record in records where record.type == .rrsig {
            guard let signature = RRSIGRecord(rdata: record.rdata),
                  let position = index[Key(owner: record.name, type: signature.typeCovered, rrclass: record.rrclass)]
            else { continue }
            sets[position].signatures.append(signature)
        }
        return sets
    }

    private struct Key: Hashable {
        let owner: DNSName
        let type: DNSType
        let rrclass: DNSClass
    }

    /// The zones that signed this set (the signer names of its RRSIGs), most common first.
    var signers: [DNSName] {
        var seen: [DNSName] = []
        for signature in self.signatures where !seen.contains(signature.signerName) {
            seen.append(signature.signerName)
        }
        return seen
    }

    /// The wildcard this set was expanded from, when an RRSIG says so (its label count is below the owner's), or
    /// nil for a set that stands at its own name. Judged by the first RRSIG that verified.
    func wildcardSource(_ signature: RRSIGRecord) -> DNSName? {
        let ownerLabels = self.owner.isWildcard ? self.owner.labelCount - 1 : self.owner.labelCount
        guard Int(signature.labels) < ownerLabels else { return nil }
        return self.owner.suffix(labels: Int(signature.labels)).wildcard
    }

    /// What `signature` covers for this set (RFC 4034 §3.1.8.1): its RDATA without the signature, then every record
    /// in canonical form and order, with the original TTL.
    func signedData(_ signature: RRSIGRecord) -> [UInt8] {
        let ownerLabels = self.owner.isWildcard ? self.owner.labelCount - 1 : self.owner.labelCount
        var owner = self.owner.canonical
        if Int(signature.labels) < ownerLabels, let wildcard = owner.suffix(labels: Int(signature.labels)).wildcard {
            owner = wildcard
        }
        let rdatas = self.rdatas.map { CanonicalRDATA.canonical(type: self.type, rdata: $0) }
            .sorted { $0.lexicographicallyPrecedes($1) }
        var data = signature.signedPrefix
        data.reserveCapacity(data.count + rdatas.reduce(0) { $0 + $1.count + owner.wire.count + 10 })
        var previous: [UInt8]?
        for rdata in rdatas where rdata != previous {
            previous = rdata
            data.append(contentsOf: owner.wire)
            let ttl = signature.originalTTL
            data.append(contentsOf: [UInt8(self.type.rawValue >> 8), UInt8(self.type.rawValue & 0xFF),
                                     UInt8(self.rrclass.rawValue >> 8), UInt8(self.rrclass.rawValue & 0xFF),
                                     UInt8(ttl >> 24), UInt8((ttl >> 16) & 0xFF), UInt8((ttl >> 8) & 0xFF),
                                     UInt8(ttl & 0xFF), UInt8(rdata.count >> 8), UInt8(rdata.count & 0xFF)])
            data.append(contentsOf: rdata)
        }
        return data
    }
}

/// RDATA in canonical form (RFC 4034 §6.2 as amended by RFC 6840 §5.1): names inside the RDATA of the types that
/// carry them lowercased, everything else as it is.
enum CanonicalRDATA {
    static func canonical(type: DNSType, rdata: [UInt8]) -> [UInt8] {
        // Where each type's names are: bytes to skip before the first, and how many names follow in a row.
        let layout: (skip: Int, names: Int)?
        switch type.rawValue {
        case 2, 3, 4, 5, 7, 8, 9, 12, 39: layout = (0, 1)      // NS, MD, MF, CNAME, MB, MG, MR, PTR, DNAME
        case 6, 14, 17: layout = (0, 2)                         // SOA, MINFO, RP
        case 15, 18, 21, 36: layout = (2, 1)                    // MX, AFSDB, RT, KX
        case 26: layout = (2, 2)                                // PX
        case 33: layout = (6, 1)                                // SRV
        case 35: return naptr(rdata)
        default: layout = nil
        }
        guard let layout, rdata.count >= layout.skip else { return rdata }
        var output = Array(rdata[0..<layout.skip])
        var offset = layout.skip
        for _ in 0..<layout.names {
            guard let (name, end) = NameScanner.name(in: rdata, at: offset) else { return rdata }
            output.append(contentsOf: name.canonical.wire)
            offset = end
        }
        output.append(contentsOf: rdata[offset...])
        return output
    }

    /// NAPTR: order, preference, three character strings, then the replacement name.
    private static func naptr(_ rdata: [UInt8]) -> [UInt8] {
        var offset = 4
        for _ in 0..<3 {
            guard offset < rdata.count else { return rdata }
            offset += 1 + Int(rdata[offset])
        }
        guard offset <= rdata.count, let (name, end) = NameScanner.name(in: rdata, at: offset) else { return rdata }
        return Array(rdata[0..<offset]) + name.canonical.wire + rdata[end...]
    }
}
