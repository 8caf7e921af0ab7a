public import DNSWire

/// Names dnsgate answers itself, with authority: static records from the configuration and hosts files, and PTR
/// records made from their addresses.
public struct LocalRecords: Sendable {
    /// What a name has.
    public enum Lookup: Equatable, Sendable {
        /// Records to answer with (a CNAME first when the name is an alias, then what its target has locally).
        case answer([DNSLocalRecord])
        /// The name exists (with other types, or as the parent of a local name) but has nothing of this type.
        case noData
        /// Not a local name: the query goes on.
        case notLocal
    }

    private var records: [DNSName: [DNSLocalRecord]] = [:]
    /// Names that exist only because a local name lies below them (RFC 8020 empty non-terminals).
    private var parents: Set<DNSName> = []
    /// The A and AAAA records in the order they were added, for ``addReverseRecords()``.
    private var addresses: [(name: DNSName, record: DNSLocalRecord)] = []

    public init() {}

    public var isEmpty: Bool { self.records.isEmpty }

    /// Records held, the made-up PTR records included.
    public var count: Int { self.records.values.reduce(0) { $0 + $1.count } }

    /// Adds `record` for `name` (stored without an owner; the answer supplies it).
    public mutating func add(_ record: DNSLocalRecord, for name: DNSName) {
        var record = record
        record.owner = nil
        guard !(self.records[name]?.contains(record) ?? false) else { return }
        self.records[name, default: []].append(record)
        if record.type == .a || record.type == .aaaa { self.addresses.append((name, record)) }
        var parent = name.parent
        while let name = parent, name != .root {
            self.parents.insert(name)
            parent = name.parent
        }
    }

    /// Adds a PTR record for every A and AAAA record whose reverse name has none yet (the first name given for
    /// an address wins, as in a hosts file).
    public mutating func addReverseRecords() {
        for (name, record) in self.addresses {
            guard let address = IPAddress(bytes: record.rdata), let pointer = DNSName(address.reverseName),
                self.records[pointer] == nil
            else { continue }
            self.add(DNSLocalRecord(type: .ptr, ttl: record.ttl, rdata: name.wire), for: pointer)
        }
    }

    /// What `name` has of `type`.
    public func lookup(_ name: DNSName, type: DNSType) -> Lookup {
        guard let records = self.records[name] else {
            return self.parents.contains(name) ? .noData : .notLocal
        }
        let matching = records.filter { $0.type == type }
        if !matching.isEmpty { return .answer(matching) }
        guard type != .cname, let alias = records.first(where: { $0.type == .cname }) else { return .noData }
        // Follow local aliases (a few steps, never round a loop); the client's resolver chases the rest.
        var chain = [alias]
        var target = DNSName(wire: alias.rdata)
        var seen: Set<DNSName> = [name]
        while let next = target, !seen.contains(next), let nextRecords = self.records[next], chain.count < 8 {
            seen.insert(next)
            let found = nextRecords.filter { $0.type == type }
            if !found.isEmpty {
                chain += found.map { DNSLocalRecord(type: $0.type, ttl: $0.ttl, rdata: $0.rdata, owner: next) }
                break
            }
            guard let nextAlias = nextRecords.first(where: { $0.type == .cname }) else { break }
            chain.append(DNSLocalRecord(type: .cname, ttl: nextAlias.ttl, rdata: nextAlias.rdata, owner: next))
            target = DNSName(wire: nextAlias.rdata)
        }
        return .answer(chain)
    }
}
