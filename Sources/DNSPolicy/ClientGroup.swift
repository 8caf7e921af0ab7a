public import DNSCore

/// The rules that apply to one group of clients (chosen by address, like Blocky's client groups): the union of
/// the group's lists.
public struct ClientGroup: Sendable {
    public var name: String
    /// The group's clients; empty for the default group, which takes everyone no other group does.
    public var clients: PrefixSet
    public var rules: DomainRules

    public init(name: String, clients: PrefixSet, rules: DomainRules) {
        self.name = name
        self.clients = clients
        self.rules = rules
    }
}
