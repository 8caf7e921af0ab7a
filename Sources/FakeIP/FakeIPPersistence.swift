import Dispatch
public import DNSCore

/// Keeps pools and their database in step: restores every pool at start (the whole reverse map, because clients
/// connect to addresses they cached without asking again) and writes changes in batches, off the query path,
/// about once a second and once more at shutdown.
public final class FakeIPPersistence: Sendable {
    public let store: FakeIPStore
    public let pools: [FakeIPPool]

    /// Restores `pools` from `store`.
    public init(store: FakeIPStore, pools: [FakeIPPool]) throws {
        self.store = store
        self.pools = pools
        for pool in pools {
            let saved = try store.load(range: pool.range.description)
            pool.restore(saved.mappings, cursor: saved.cursor)
        }
    }

    /// Writes every pool's changes since the last flush, each pool in one transaction, on a background queue (the
    /// write finishes even if the calling task is cancelled). Changes that could not be written are kept for the
    /// next flush.
    public func flush() async throws {
        for pool in self.pools {
            let changes = pool.takeChanges()
            guard !changes.isEmpty else { continue }
            do {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                    DispatchQueue.global().async {
                        continuation.resume(with: Result { try self.store.write(changes, range: pool.range.description) })
                    }
                }
            } catch {
                pool.keepForRetry(changes)
                throw FakeIPStoreError.cannotWrite(self.store.path, reason: "\(error)")
            }
        }
    }

    /// Flushes every `interval` until the task is cancelled, then once more. `report` hears about failed writes
    /// (the changes of a failed batch are lost; the next batch goes on).
    public func run(every interval: Duration = .seconds(1), report: @Sendable (any Error) -> Void) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            do { try await self.flush() } catch { report(error) }
        }
    }
}
