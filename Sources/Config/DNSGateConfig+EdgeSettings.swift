import DNSCore

extension DNSGateConfig {
    /// The access control, rate limit, local record and blocking settings in force, as ``effectiveSettings`` shows
    /// them.
    var edgeSettings: [String: String] {
        var settings: [String: String] = [
            "acl.allow": self.accessControl.allow.description,
            "acl.deny": self.accessControl.deny.isEmpty ? "none" : self.accessControl.deny.description,
            "acl.refused_action": self.accessControl.refusal.rawValue,
            "any_queries": self.minimalANY ? "minimal" : "forward",
            "rate_limit.qps": self.rateLimit.map { "\(Int($0.queriesPerSecond))" } ?? "off",
            "local.records": "\(self.localRecords?.count ?? 0)",
            "blocking.enabled": "\(self.blocking != nil)",
            "query_log.path": self.queryLog.map { $0.path ?? "-" } ?? "off",
        ]
        settings["dnssec.validate"] = "\(self.dnssec != nil)"
        if let dnssec = self.dnssec {
            settings["dnssec.trust_anchors"] = dnssec.trustAnchorFiles.isEmpty
                ? "built-in root" : dnssec.trustAnchorFiles.joined(separator: ", ")
            settings["dnssec.negative_trust_anchors"] = dnssec.negativeTrustAnchors.isEmpty
                ? "none" : dnssec.negativeTrustAnchors.map(\.description).joined(separator: ", ")
            settings["dnssec.bogus_ttl"] = Self.text(dnssec.bogusTTL)
            settings["dnssec.clock_skew"] = Self.text(dnssec.clockSkew)
        }
        if let log = self.queryLog {
            settings["query_log.max_size"] = "\(log.maxSize)"
            settings["query_log.keep"] = "\(log.keep)"
        }
        if let limit = self.rateLimit {
            settings["rate_limit.burst"] = "\(Int(limit.burst))"
            settings["rate_limit.ipv4_prefix"] = "\(limit.ipv4PrefixLength)"
            settings["rate_limit.ipv6_prefix"] = "\(limit.ipv6PrefixLength)"
            settings["rate_limit.action"] = limit.action.rawValue
            settings["rate_limit.table_size"] = "\(limit.tableSize)"
        }
        if let blocking = self.blocking {
            settings["blocking.lists"] = blocking.lists.map { list in
                (list.allows ? "allow " : "") + list.name + " " + list.sources.joined(separator: " ")
            }.joined(separator: ", ")
            settings["blocking.groups"] = blocking.groupsWithDefault.map { group in
                "\(group.name) \(group.clients.isEmpty ? "*" : group.clients.description) \(group.lists.joined(separator: ","))"
            }.joined(separator: "; ")
            settings["blocking.answer"] = blocking.answer.rawValue
            settings["blocking.null_ttl"] = "\(blocking.nullTTL)s"
            settings["blocking.refresh_interval"] = Self.text(blocking.refreshInterval)
        }
        return settings
    }
}
