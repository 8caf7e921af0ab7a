import DNSCore
import DNSWire
import Foundation

/// Names dnsgate answers itself (`local.*`): records in the configuration and hosts files.
extension ConfigLoader {
    static let localRecordKeys = ["local.records", "local.hosts_files", "local.ttl"]

    /// The local records, PTR records for their addresses included, or nil when none are configured.
    static func localRecords(_ values: ConfigValues) throws -> LocalRecords? {
        let ttl = try values.seconds("local.ttl", default: 300)
        var records = LocalRecords()
        for line in try values.list("local.records", default: [], allowEmpty: true) {
            do {
                let (name, record) = try LocalRecordParser.record(line, defaultTTL: ttl)
                records.add(record, for: name)
            } catch {
                throw ConfigError(key: "local.records", value: line, allowed: "a record line: \(error)")
            }
        }
        for path in try values.list("local.hosts_files", default: [], allowEmpty: true) {
            guard let contents = FileManager.default.contents(atPath: path) else {
                throw ConfigError(key: "local.hosts_files", value: path, allowed: "a readable hosts file")
            }
            for (number, line) in String(decoding: contents, as: UTF8.self).split(
                separator: "\n", omittingEmptySubsequences: false).enumerated()
            {
                do {
                    for (name, record) in try LocalRecordParser.hostsLine(line, ttl: ttl) { records.add(record, for: name) }
                } catch {
                    throw ConfigError(key: "local.hosts_files", value: "\(path) line \(number + 1)",
                                      allowed: "hosts-file lines (ADDRESS NAME [ALIAS...]): \(error)")
                }
            }
        }
        guard !records.isEmpty else { return nil }
        records.addReverseRecords()
        return records
    }
}
