import Atomics
public import Logging

/// Whether a DoT upstream has refused ALPN `dot` with RFC 7301's no_application_protocol alert (a TLS terminator
/// set up for HTTP only). Once it has, its connections offer no ALPN at all; the change is logged once.
public final class ALPNFallback: Sendable {
    private let active = ManagedAtomic(false)
    private let upstream: String
    private let logger: Logger

    public init(upstream: String, logger: Logger) {
        self.upstream = upstream
        self.logger = logger
    }

    /// Whether connections leave ALPN out.
    public var isActive: Bool { self.active.load(ordering: .relaxed) }

    /// Leaves ALPN out from now on; true for the caller that made the change (which then connects again).
    func activate() -> Bool {
        guard self.active.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else {
            return false
        }
        self.logger.warning("upstream refuses ALPN 'dot': connecting without ALPN from now on",
                            metadata: ["upstream": "\(self.upstream)"])
        return true
    }
}
