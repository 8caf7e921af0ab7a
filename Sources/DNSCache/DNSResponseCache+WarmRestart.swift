public import DNSCore
import DNSWire
public import NIOCore

/// Why a saved cache could not be read back.
public struct SavedCacheError: Error, CustomStringConvertible, Hashable {
    private enum Base: Hashable {
        case notASavedCache
    }

    private let base: Base

    private init(_ base: Base) {
        self.base = base
    }

    /// The file does not start with the saved cache's header and version.
    public static let notASavedCache = Self(.notASavedCache)

    public var description: String {
        switch self.base {
        case .notASavedCache: return "not a saved dnsgate cache"
        }
    }
}

/// Warm restart: the answers still fresh at shutdown, saved with their age, so that the next start serves them
/// (aged by the time in between) instead of asking the upstreams for every popular name again.
///
/// Format: magic `DGC1`, the wall-clock time of saving (milliseconds since 1970), then per answer its DO/CD bits
/// (one byte), its age at saving in seconds (32 bits), its length (16 bits) and the answer as the cache stores it.
extension DNSResponseCache {
    static let savedMagic: UInt32 = 0x4447_4331

    /// The fresh answers, oldest first (SERVFAIL and stale answers are not worth keeping).
    public func saved(wallClockMilliseconds: Int64 = WallClock.milliseconds()) -> ByteBuffer {
        let now = self.now
        var out = ByteBuffer()
        out.writeMultipleIntegers(Self.savedMagic, UInt64(clamping: wallClockMilliseconds))
        for entry in self.allEntries {
            let age = UInt32(clamping: (now - entry.storedAt) / 1_000_000_000)
            let message = entry.answer.message
            guard age < entry.answer.lifetime, entry.answer.rcode != .servFail,
                message.readableBytes <= Int(UInt16.max)
            else { continue }
            let flags = UInt8(entry.dnssecOK ? 1 : 0) | UInt8(entry.checkingDisabled ? 2 : 0)
            out.writeMultipleIntegers(flags, age, UInt16(message.readableBytes))
            out.writeImmutableBuffer(message)
        }
        return out
    }

    /// Stores the answers of `saved` that are still fresh, their TTLs lowered by their age at saving plus the time
    /// since; returns how many. Throws when `saved` is not a saved cache at all; an answer cut short or unreadable
    /// ends the restore there (what came before it stays).
    @discardableResult
    public func restore(_ saved: ByteBuffer, wallClockMilliseconds: Int64 = WallClock.milliseconds())
        throws(SavedCacheError) -> Int
    {
        var saved = saved
        guard let (magic, savedAt) = saved.readMultipleIntegers(as: (UInt32, UInt64).self), magic == Self.savedMagic
        else { throw SavedCacheError.notASavedCache }
        let downtime = UInt32(clamping: max(0, wallClockMilliseconds - Int64(clamping: savedAt)) / 1000)
        var restored = 0
        while let (flags, age, length) = saved.readMultipleIntegers(as: (UInt8, UInt32, UInt16).self),
            var message = saved.readSlice(length: Int(length))
        {
            guard let view = try? DNSMessageView(message), view.header.isResponse, let question = view.question
            else { break }
            guard message.dnsLowerTTLs(by: UInt32(clamping: UInt64(age) + UInt64(downtime)), view: view) else { continue }
            let key = CacheKey(name: question.name, type: question.type.rawValue, rrclass: question.rrclass.rawValue,
                               dnssecOK: flags & 1 != 0, checkingDisabled: flags & 2 != 0)
            if self.store(message, view: view, for: key) != nil { restored += 1 }
        }
        return restored
    }
}
