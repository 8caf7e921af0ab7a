import DNSCore
import NIOCore

/// Blocklists and client groups (`blocking.*`).
extension ConfigLoader {
    static let blockingKeys = [
        "blocking.sources", "blocking.lists", "blocking.allowlists", "blocking.groups", "blocking.default_lists",
        "blocking.answer", "blocking.null_ttl", "blocking.refresh_interval",
    ]

    /// The settings, or nil when no list is configured.
    static func blocking(_ values: ConfigValues) throws -> BlockingSettings? {
        var lists: [BlockingSettings.List] = []
        let sources = try values.list("blocking.sources", default: [], allowEmpty: true)
        if !sources.isEmpty { lists.append(.init(name: "default", sources: sources, allows: false)) }
        for (key, allows) in [("blocking.lists", false), ("blocking.allowlists", true)] {
            for line in try values.list(key, default: [], allowEmpty: true) {
                let fields = line.split(whereSeparator: \.isWhitespace).map(String.init)
                guard fields.count >= 2 else {
                    throw ConfigError(key: key, value: line, allowed: "NAME SOURCE [SOURCE...] (files or http(s) URLs)")
                }
                guard !lists.contains(where: { $0.name == fields[0] }) else {
                    throw ConfigError(key: key, value: line, allowed: "a list name not used before")
                }
                lists.append(.init(name: fields[0], sources: Array(fields.dropFirst()), allows: allows))
            }
        }
        guard !lists.isEmpty else { return nil }
        for list in lists {
            for source in list.sources where source.contains("://") {
                guard source.hasPrefix("http://") || source.hasPrefix("https://") else {
                    throw ConfigError(key: "blocking.lists", value: source, allowed: "a file path or an http(s) URL")
                }
            }
        }
        let names = Set(lists.map(\.name))
        func listNames(_ text: String, key: String) throws -> [String] {
            let chosen = text.split(separator: ",").map(String.init)
            for name in chosen where !names.contains(name) {
                throw ConfigError(key: key, value: name,
                                  allowed: "a configured list: " + names.sorted().joined(separator: ", "))
            }
            return chosen
        }
        let groups = try values.list("blocking.groups", default: [], allowEmpty: true).map { line in
            // NAME CIDR[,CIDR...] LIST[,LIST...]
            let fields = line.split(whereSeparator: \.isWhitespace).map(String.init)
            guard fields.count == 3 else {
                throw ConfigError(key: "blocking.groups", value: line,
                                  allowed: "NAME CIDR[,CIDR...] LIST[,LIST...], e.g. 'kids 192.168.2.0/24 ads,adult'")
            }
            let clients = try fields[1].split(separator: ",").map { text in
                guard let prefix = IPPrefix(String(text)) else {
                    throw ConfigError(key: "blocking.groups", value: String(text), allowed: "an address prefix")
                }
                return prefix
            }
            return BlockingSettings.Group(name: fields[0], clients: PrefixSet(clients),
                                          lists: try listNames(fields[2], key: "blocking.groups"))
        }
        let defaultLists = values.isSet("blocking.default_lists")
            ? try values.list("blocking.default_lists", default: [], allowEmpty: true).flatMap {
                try listNames($0, key: "blocking.default_lists")
            }
            : lists.map(\.name)
        return BlockingSettings(
            lists: lists, groups: groups, defaultLists: defaultLists,
            answer: try values.choice("blocking.answer", default: BlockingAnswer.null),
            nullTTL: try values.seconds("blocking.null_ttl", default: 60, max: 86_400),
            refreshInterval: try values.duration("blocking.refresh_interval", default: .hours(24)))
    }
}
