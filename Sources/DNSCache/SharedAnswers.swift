public import DNSCore
import DNSWire
public import NIOCore

/// How the cache uses a ``SharedCacheTier``: it publishes every cacheable upstream answer with its remaining
/// lifetime, and on a local miss reads the tier within a short budget before going upstream. A value the tier
/// returns late, broken or for another question is a miss, never an error.
///
/// A value is a version byte, the wall-clock time it was written (milliseconds since 1970, so that instances on
/// other machines can age it), and the answer as the cache stores it.
public struct SharedAnswers: Sendable {
    public let tier: any SharedCacheTier
    /// The longest a query waits for the tier before going upstream.
    public let budget: TimeAmount
    private let wallClock: @Sendable () -> Int64

    static let formatVersion: UInt8 = 1
    static let keyPrefix = "dnsgate:v1:"

    /// - Parameter wallClock: milliseconds since 1970; defaults to the system clock.
    public init(tier: any SharedCacheTier, budget: TimeAmount = .milliseconds(25),
                wallClock: @escaping @Sendable () -> Int64 = WallClock.milliseconds) {
        self.tier = tier
        self.budget = budget
        self.wallClock = wallClock
    }

    /// The tier's key for `key`: a prefix, type, class, DO and CD, then the lowercased name.
    static func tierKey(_ key: CacheKey) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(Self.keyPrefix.utf8.count + 5 + key.name.wire.count)
        buffer.writeString(Self.keyPrefix)
        buffer.writeMultipleIntegers(key.type, key.rrclass,
                                     UInt8(key.dnssecOK ? 1 : 0) | UInt8(key.checkingDisabled ? 2 : 0))
        buffer.writeBytes(key.name.wire.lazy.map { ($0 >= 0x41 && $0 <= 0x5A) ? $0 | 0x20 : $0 })
        return buffer
    }

    /// Publishes `answer`, just stored for `key`. SERVFAIL stays local: it is a statement about this instance's
    /// upstreams, and it lives only a second or so.
    func publish(_ answer: CachedAnswer, for key: CacheKey, eventLoop: any EventLoop) {
        let message = answer.message
        guard answer.rcode != .servFail else { return }
        var value = ByteBuffer()
        value.reserveCapacity(9 + message.readableBytes)
        value.writeMultipleIntegers(Self.formatVersion, UInt64(clamping: self.wallClock()))
        value.writeImmutableBuffer(message)
        self.tier.store(value, for: Self.tierKey(key), lifetime: .seconds(Int64(answer.lifetime)), eventLoop: eventLoop)
    }

    /// The tier's answer for `key`, aged by the time since it was written and stored in `cache`; nil on a miss, a
    /// failure, a broken value or when the budget runs out first.
    func lookup(_ key: CacheKey, in cache: DNSResponseCache, eventLoop: any EventLoop) -> EventLoopFuture<CachedAnswer?> {
        let promise = eventLoop.makePromise(of: CachedAnswer?.self)
        let statistics = cache.statistics
        let timeout = eventLoop.scheduleTask(in: self.budget) {
            statistics.sharedFailures.increment()
            promise.succeed(nil)
        }
        self.tier.value(for: Self.tierKey(key), eventLoop: eventLoop).whenComplete { result in
            timeout.cancel()
            switch result {
            case .success(let value?):
                let answer = self.adopt(value, for: key, in: cache)
                (answer == nil ? statistics.sharedFailures : statistics.sharedHits).increment()
                promise.succeed(answer)
            case .success(nil):
                statistics.sharedMisses.increment()
                promise.succeed(nil)
            case .failure:
                statistics.sharedFailures.increment()
                promise.succeed(nil)
            }
        }
        return promise.futureResult
    }

    /// Checks a value from the tier, lowers its TTLs by its age and stores it locally.
    private func adopt(_ value: ByteBuffer, for key: CacheKey, in cache: DNSResponseCache) -> CachedAnswer? {
        var value = value
        guard let (version, writtenAt) = value.readMultipleIntegers(as: (UInt8, UInt64).self),
            version == Self.formatVersion,
            var message = value.getSlice(at: value.readerIndex, length: value.readableBytes),
            let view = try? DNSMessageView(message),
            let question = view.question, question.name == key.name, question.type.rawValue == key.type,
            question.rrclass.rawValue == key.rrclass, view.header.isResponse
        else { return nil }
        let age = UInt32(clamping: max(0, self.wallClock() - Int64(clamping: writtenAt)) / 1000)
        guard message.dnsLowerTTLs(by: age, view: view) else { return nil }
        return cache.store(message, view: view, for: key)
    }
}
