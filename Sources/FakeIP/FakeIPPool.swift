public import DNSCore
import Synchronization

/// One range's name ↔ address mapping. A new name takes the next address after the last one handed out (the
/// position survives restarts, so a new name never gets an address that some client may still have cached for
/// another name); once every address is in use, the least recently used mapping without an open connection is
/// recycled. Safe to use from any thread; one lock, held for dictionary work only.
public final class FakeIPPool: Sendable {
    /// A change to persist.
    public enum Change: Sendable, Hashable {
        case set(index: Int, name: String, lastUsed: Int64)
        case remove(index: Int)
        case cursor(Int)
    }

    private struct Entry {
        var name: String
        var lastUsed: Int64
        var pins = 0
        /// Neighbours in recency order (indices, -1 for none): `older` towards the least recently used.
        var older = -1
        var newer = -1
    }

    private struct State {
        var byName: [String: Int] = [:]
        var entries: [Int: Entry] = [:]
        var newest = -1
        var oldest = -1
        var cursor = 0
        /// Changes since the last `takeChanges()`, coalesced per address.
        var changedIndices: Set<Int> = []
        var cursorChanged = false
        /// Mappings dropped to give their address to another name.
        var recycled = 0
    }

    public let range: FakeIPRange
    private let state = Mutex(State())

    public init(range: FakeIPRange) {
        self.range = range
    }

    /// Mappings held.
    public var count: Int { self.state.withLock { $0.entries.count } }

    /// Mappings recycled for another name since start.
    public var recycled: Int { self.state.withLock { $0.recycled } }

    /// Restores mappings and the allocator's position read from the store.
    public func restore(_ mappings: [(index: Int, name: String, lastUsed: Int64)], cursor: Int) {
        self.state.withLock { state in
            for mapping in mappings.sorted(by: { $0.lastUsed < $1.lastUsed })
            where mapping.index >= 0 && mapping.index < self.range.capacity && state.byName[mapping.name] == nil {
                state.entries[mapping.index] = Entry(name: mapping.name, lastUsed: mapping.lastUsed)
                state.byName[mapping.name] = mapping.index
                Self.linkNewest(mapping.index, &state)
            }
            state.cursor = min(max(0, cursor), self.range.capacity - 1)
        }
    }

    /// The address of `name` (lowercase, with trailing dot), allocated now if it has none. Recycling takes only
    /// a mapping unused for more than `minimumIdle` seconds (the answer TTL: no client can still have it cached) and
    /// without an open connection; nil when there is none.
    public func address(for name: String, now: Int64, minimumIdle: Int64 = 0) -> IPAddress? {
        self.state.withLock { state -> IPAddress? in
            if let index = state.byName[name] {
                Self.touch(index, now: now, &state)
                return self.range.address(at: index)
            }
            guard let index = self.freeIndex(&state, idleBefore: now - minimumIdle) else { return nil }
            state.entries[index] = Entry(name: name, lastUsed: now)
            state.byName[name] = index
            Self.linkNewest(index, &state)
            state.changedIndices.insert(index)
            return self.range.address(at: index)
        }
    }

    /// The name `address` stands for; `now` marks it used.
    public func name(for address: IPAddress, now: Int64? = nil) -> String? {
        guard let index = self.range.index(of: address) else { return nil }
        return self.state.withLock { state in
            guard let entry = state.entries[index] else { return nil }
            if let now { Self.touch(index, now: now, &state) }
            return entry.name
        }
    }

    /// Keeps `address`'s mapping from being recycled until `unpin`; returns its name, or nil if it has none.
    public func pin(_ address: IPAddress, now: Int64) -> String? {
        guard let index = self.range.index(of: address) else { return nil }
        return self.state.withLock { state in
            guard state.entries[index] != nil else { return nil }
            state.entries[index]?.pins += 1
            Self.touch(index, now: now, &state)
            return state.entries[index]?.name
        }
    }

    public func unpin(_ address: IPAddress) {
        guard let index = self.range.index(of: address) else { return }
        self.state.withLock { state in
            if let pins = state.entries[index]?.pins, pins > 0 { state.entries[index]?.pins = pins - 1 }
        }
    }

    /// Every mapping, most recently used first.
    public func mappings() -> [(address: IPAddress, name: String, lastUsed: Int64)] {
        self.state.withLock { state in
            var result: [(address: IPAddress, name: String, lastUsed: Int64)] = []
            var index = state.newest
            while index >= 0, let entry = state.entries[index] {
                result.append((self.range.address(at: index), entry.name, entry.lastUsed))
                index = entry.older
            }
            return result
        }
    }

    /// What changed since the last call, for the store.
    public func takeChanges() -> [Change] {
        self.state.withLock { state in
            var changes: [Change] = state.changedIndices.map { index in
                guard let entry = state.entries[index] else { return .remove(index: index) }
                return .set(index: index, name: entry.name, lastUsed: entry.lastUsed)
            }
            if state.cursorChanged { changes.append(.cursor(state.cursor)) }
            state.changedIndices.removeAll(keepingCapacity: true)
            state.cursorChanged = false
            return changes
        }
    }

    /// Whether `name` has an address.
    public func contains(_ name: String) -> Bool {
        self.state.withLock { $0.byName[name] != nil }
    }

    /// Marks `changes` (taken but not written) as pending again; newer changes to the same addresses win.
    public func keepForRetry(_ changes: [Change]) {
        self.state.withLock { state in
            for change in changes {
                switch change {
                case .set(let index, _, _), .remove(let index): state.changedIndices.insert(index)
                case .cursor: state.cursorChanged = true
                }
            }
        }
    }

    /// The next never-used address after the cursor while there is one, else the least recently used mapping
    /// last used before `idleBefore` that has no open connection (which is dropped).
    private func freeIndex(_ state: inout State, idleBefore: Int64) -> Int? {
        if state.entries.count < self.range.capacity {
            var index = state.cursor
            while state.entries[index] != nil { index = (index + 1) % self.range.capacity }
            state.cursor = (index + 1) % self.range.capacity
            state.cursorChanged = true
            return index
        }
        var candidate = state.oldest
        while candidate >= 0, let entry = state.entries[candidate], entry.pins > 0 { candidate = entry.newer }
        guard candidate >= 0, let entry = state.entries[candidate], entry.lastUsed < idleBefore else { return nil }
        Self.unlink(candidate, &state)
        state.entries[candidate] = nil
        state.byName[entry.name] = nil
        state.recycled += 1
        return candidate
    }

    private static func touch(_ index: Int, now: Int64, _ state: inout State) {
        state.entries[index]?.lastUsed = now
        state.changedIndices.insert(index)
        guard state.newest != index else { return }
        Self.unlink(index, &state)
        Self.linkNewest(index, &state)
    }

    private static func linkNewest(_ index: Int, _ state: inout State) {
        state.entries[index]?.older = state.newest
        state.entries[index]?.newer = -1
        if state.newest >= 0 { state.entries[state.newest]?.newer = index }
        state.newest = index
        if state.oldest < 0 { state.oldest = index }
    }

    private static func unlink(_ index: Int, _ state: inout State) {
        guard let entry = state.entries[index] else { return }
        if entry.older >= 0 { state.entries[entry.older]?.newer = entry.newer } else { state.oldest = entry.newer }
        if entry.newer >= 0 { state.entries[entry.newer]?.older = entry.older } else { state.newest = entry.older }
    }
}
