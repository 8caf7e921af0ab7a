
/// What the proxy does with a connection for a domain: the first rule whose pattern matches decides; without
/// one, the connection goes direct.
public struct ProxyRule: Sendable {
    public enum Action: Sendable, Hashable, CustomStringConvertible {
        /// Resolve the domain and connect to it from here.
        case direct
        /// Refuse: the client's connection is reset.
        case reject
        /// Through the configured SOCKS5 server, which is sent the domain name and resolves it.
        case socks5

        public var description: String {
            switch self {
            case .direct: "direct"
            case .reject: "reject"
            case .socks5: "socks5"
            }
        }
    }

    public var pattern: DomainPattern
    public var action: Action

    public init(pattern: DomainPattern, action: Action) {
        self.pattern = pattern
        self.action = action
    }

    /// The action for `name` under `rules`.
    public static func action(for name: String, in rules: [ProxyRule]) -> Action {
        rules.first { $0.pattern.matches(name) }?.action ?? .direct
    }
}
