import Atomics
public import Logging

/// Which HTTP method a DoH upstream's queries use: GET when configured (`method=get`), else POST until the server
/// has reset ``resetsBeforeSwitch`` POST streams in a row (Knot Resolver 5 resets concurrent POST streams), then GET
/// for good, logged once. Shared by every connection to the upstream.
public final class DoHMethodChoice: Sendable {
    /// POST streams reset in a row after which the upstream is asked with GET.
    static let resetsBeforeSwitch = 3

    private let usesGET: ManagedAtomic<Bool>
    /// Whether GET was chosen because POST streams were reset (not configured).
    private let switched = ManagedAtomic(false)
    private let resetsInARow = ManagedAtomic(0)
    private let upstream: String
    private let logger: Logger

    public init(configuredGET: Bool, upstream: String, logger: Logger) {
        self.usesGET = ManagedAtomic(configuredGET)
        self.upstream = upstream
        self.logger = logger
    }

    /// Whether the next query is sent with GET.
    var prefersGET: Bool { self.usesGET.load(ordering: .relaxed) }

    /// Whether the upstream was switched to GET after resetting POST streams.
    public var switchedToGET: Bool { self.switched.load(ordering: .relaxed) }

    /// A POST stream was answered.
    func postAnswered() {
        self.resetsInARow.store(0, ordering: .relaxed)
    }

    /// The server reset a POST stream before answering it.
    func postReset() {
        guard self.resetsInARow.wrappingIncrementThenLoad(ordering: .relaxed) >= Self.resetsBeforeSwitch,
            self.usesGET.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged
        else { return }
        self.switched.store(true, ordering: .relaxed)
        self.logger.warning("upstream resets POST streams: sending its queries with GET from now on",
                            metadata: ["upstream": "\(self.upstream)"])
    }
}
