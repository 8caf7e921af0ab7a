import Atomics

/// A fixed table of integer counters in one allocation, each incremented with a relaxed atomic add: no reference
/// counting and no object per counter on the hot path, where an array of `ManagedAtomic`s costs a retain and a
/// release per access.
public final class AtomicCounters: @unchecked Sendable {
    // @unchecked: the storage is only ever touched through atomic operations.
    private let storage: UnsafeMutablePointer<Int.AtomicRepresentation>
    public let count: Int

    public init(count: Int) {
        self.count = count
        self.storage = .allocate(capacity: count)
        self.storage.initialize(repeating: Int.AtomicRepresentation(0), count: count)
    }

    deinit {
        self.storage.deinitialize(count: self.count)
        self.storage.deallocate()
    }

    /// Adds `amount` to counter `index` (which must be below `count`).
    @inline(__always)
    public func add(_ amount: Int = 1, at index: Int) {
        UnsafeAtomic<Int>(at: self.storage + index).wrappingIncrement(by: amount, ordering: .relaxed)
    }

    /// Counter `index` now.
    public func value(at index: Int) -> Int {
        UnsafeAtomic<Int>(at: self.storage + index).load(ordering: .relaxed)
    }
}
