public import DNSCore
public import NIOCore

/// Blocklists, allowlists and the client groups that use them (`blocking.*`). The lists' contents are read by the
/// app (files and HTTP(S) URLs), not here.
public struct BlockingSettings: Sendable, Hashable {
    /// A named list and where its entries come from.
    public struct List: Sendable, Hashable {
        public var name: String
        /// File paths and `http://` or `https://` URLs.
        public var sources: [String]
        /// Whether the list's entries allow rather than block.
        public var allows: Bool
    }

    /// A group of clients and the lists that apply to them.
    public struct Group: Sendable, Hashable {
        public var name: String
        public var clients: PrefixSet
        public var lists: [String]
    }

    public var lists: [List]
    /// Checked in order; clients in none of them get ``defaultLists``.
    public var groups: [Group]
    public var defaultLists: [String]
    public var answer: BlockingAnswer
    public var nullTTL: UInt32
    /// How often URL sources are fetched again.
    public var refreshInterval: TimeAmount

    /// The groups in the order they are checked, the default group (no clients) last.
    public var groupsWithDefault: [Group] {
        self.groups + [Group(name: "default", clients: PrefixSet([]), lists: self.defaultLists)]
    }
}
