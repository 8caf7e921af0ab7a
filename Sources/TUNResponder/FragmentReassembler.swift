import DNSCore

/// Puts fragmented queries back together, in a table bounded in entries, bytes per datagram and time (RFC 791,
/// RFC 8200 §4.5). Overlapping fragments make the whole datagram invalid (RFC 5722), as do fragments beyond
/// 64 KiB. Confined to one thread.
struct FragmentReassembler {
    private struct Key: Hashable {
        var source: IPAddress
        var destination: IPAddress
        var identification: UInt32
        var nextProtocol: UInt8
    }

    private struct Partial {
        var pieces: [(offset: Int, bytes: [UInt8])] = []
        var totalLength: Int?
        var received = 0
        var expiresAt: Int64
    }

    static let maxDatagram = 65_535

    let maxEntries: Int
    let lifetime: Int64
    private var partials: [Key: Partial] = [:]

    /// - Parameter lifetime: nanoseconds a datagram may take to arrive whole.
    init(maxEntries: Int = 64, lifetime: Int64 = 5_000_000_000) {
        self.maxEntries = maxEntries
        self.lifetime = lifetime
    }

    var pending: Int { self.partials.count }

    enum Outcome {
        /// The whole upper-layer payload.
        case complete([UInt8])
        /// Kept; more fragments are needed.
        case waiting
        case dropped(PacketDropReason)
    }

    /// Adds `bytes`, the fragment `fragment` of `packet`, at time `now` (nanoseconds).
    mutating func add(_ bytes: UnsafeRawBufferPointer, of packet: IPPacket, fragment: IPPacket.Fragment, now: Int64)
        -> Outcome
    {
        self.expire(now: now)
        let key = Key(source: packet.source, destination: packet.destination,
                      identification: fragment.identification, nextProtocol: packet.nextProtocol)
        let end = fragment.offset + bytes.count
        guard end <= Self.maxDatagram, fragment.moreFragments ? bytes.count % 8 == 0 && !bytes.isEmpty : true else {
            self.partials[key] = nil
            return .dropped(.malformed)
        }
        var partial = self.partials[key] ?? Partial(expiresAt: now + self.lifetime)
        if self.partials[key] == nil, self.partials.count >= self.maxEntries { return .dropped(.fragmentTable) }
        let overlaps = partial.pieces.contains { $0.offset < end && fragment.offset < $0.offset + $0.bytes.count }
        let beyondEnd = partial.totalLength.map { end > $0 } ?? false
        let endConflict = !fragment.moreFragments && (partial.totalLength.map { $0 != end } ?? false
            || partial.pieces.contains { $0.offset + $0.bytes.count > end })
        guard !overlaps, !beyondEnd, !endConflict else {
            self.partials[key] = nil
            return .dropped(.malformed)
        }
        partial.pieces.append((fragment.offset, [UInt8](bytes)))
        partial.received += bytes.count
        if !fragment.moreFragments { partial.totalLength = end }
        guard let total = partial.totalLength, partial.received == total else {
            self.partials[key] = partial
            return .waiting
        }
        self.partials[key] = nil
        var whole = [UInt8](repeating: 0, count: total)
        for piece in partial.pieces { whole.replaceSubrange(piece.offset..<piece.offset + piece.bytes.count, with: piece.bytes) }
        return .complete(whole)
    }

    private mutating func expire(now: Int64) {
        guard !self.partials.isEmpty else { return }
        self.partials = self.partials.filter { $0.value.expiresAt > now }
    }
}
