import NIOConcurrencyHelpers
import NIOCore

/// A thread-safe set of open channels.
final class ChannelRegistry: Sendable {
    private let channels = NIOLockedValueBox<(next: Int, byID: [Int: any Channel])>((0, [:]))

    func add(_ channel: any Channel) -> Int {
        self.channels.withLockedValue { state in
            state.next += 1
            state.byID[state.next] = channel
            return state.next
        }
    }

    func remove(_ id: Int) {
        self.channels.withLockedValue { _ = $0.byID.removeValue(forKey: id) }
    }

    var all: [any Channel] {
        self.channels.withLockedValue { Array($0.byID.values) }
    }
}
