import Synchronization
public import DNSCore

/// The proxy's rules in force, shared by its TCP and UDP sides and replaceable while connections flow (a reload):
/// each new connection or flow is decided by the rules of the moment it opens.
public final class ProxyRuleSet: Sendable {
    private let rules: Mutex<[ProxyRule]>

    public init(_ rules: [ProxyRule]) {
        self.rules = Mutex(rules)
    }

    /// The action for `name` now.
    func action(for name: String) -> ProxyRule.Action {
        let rules = self.rules.withLock { $0 }
        return ProxyRule.action(for: name, in: rules)
    }

    /// Decides new connections and flows by `rules` from now on.
    public func replace(with rules: [ProxyRule]) {
        self.rules.withLock { $0 = rules }
    }
}
