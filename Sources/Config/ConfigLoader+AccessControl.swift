import DNSCore

/// Who may query (`acl.*`).
extension ConfigLoader {
    static let accessControlKeys = ["acl.allow", "acl.deny", "acl.refused_action"]

    static func accessControl(_ values: ConfigValues) throws -> AccessControl {
        AccessControl(
            allow: try Self.prefixes(values, "acl.allow", default: PrefixSet.privateNetworks.prefixes),
            deny: try Self.prefixes(values, "acl.deny", default: []),
            refusal: try values.choice("acl.refused_action", default: AccessControl.Refusal.refuse))
    }

    /// The access control of each listener that sets its own (by ``ListenerAddress/id``): its `allow=` in place of
    /// `acl.allow`, its `deny=` added to `acl.deny`.
    static func listenerAccess(_ entries: [ListenerEntry], global: AccessControl) -> [Int: AccessControl] {
        var access: [Int: AccessControl] = [:]
        for entry in entries where entry.allow != nil || !entry.deny.isEmpty {
            access[entry.address.id] = AccessControl(
                allow: entry.allow.map(PrefixSet.init) ?? global.allow,
                deny: PrefixSet(global.deny.prefixes + entry.deny), refusal: global.refusal)
        }
        return access
    }

    /// A list of CIDR prefixes (`192.168.0.0/16`, `fd00::/8`, or bare addresses).
    static func prefixes(_ values: ConfigValues, _ key: String, default defaultValue: [IPPrefix]) throws -> PrefixSet {
        guard values.isSet(key) else { return PrefixSet(defaultValue) }
        return PrefixSet(try values.list(key, default: [], allowEmpty: true).map { text in
            guard let prefix = IPPrefix(text) else {
                throw ConfigError(key: key, value: text, allowed: "an address prefix such as 192.168.0.0/16 or fd00::/8")
            }
            return prefix
        })
    }
}
