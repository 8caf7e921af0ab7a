import Atomics

/// Counts queries being answered across event loops, so that shutdown can wait for them.
final class InFlightCounter: Sendable {
    private let count = ManagedAtomic<Int>(0)

    func add(_ queries: Int) { self.count.wrappingIncrement(by: queries, ordering: .relaxed) }
    func decrement() { self.count.wrappingDecrement(ordering: .relaxed) }
    func subtract(_ queries: Int) { self.count.wrappingDecrement(by: queries, ordering: .relaxed) }
    var value: Int { self.count.load(ordering: .relaxed) }
}
