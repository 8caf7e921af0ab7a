import Foundation

/// `kdig`, the client the integration tests query with.
enum Kdig {
    /// One answer as kdig reports it.
    struct Reply {
        var status: String
        var flags: [String]
        /// Answer-section records as `name ttl class type data` lines, sorted.
        var answers: [String]
        var authority: [String]
        var raw: String
    }

    /// Queries `server`:`port` for `name` `type`; `options` are extra kdig options such as `+tcp`.
    /// Returns nil when no reply arrived.
    static func query(_ name: String, _ type: String = "A", server: String = "127.0.0.1", port: Int,
                      options: [String] = [], timeout: Int = 3, namespace: String? = nil) throws -> Reply? {
        let result = try runCommand("/usr/bin/kdig", ["@\(server)", "-p", "\(port)", "+timeout=\(timeout)", "+retry=0",
                                                      "+nocrypto"] + options + [name, type], namespace: namespace)
        return Self.parse(result.output)
    }

    /// Parses kdig's default output.
    static func parse(_ text: String) -> Reply? {
        guard let header = text.split(separator: "\n").first(where: { $0.contains("->>HEADER<<-") }),
            let statusRange = header.range(of: "status: ")
        else { return nil }
        let status = header[statusRange.upperBound...].prefix { $0 != ";" }
        let flagsLine = text.split(separator: "\n").first { $0.hasPrefix(";; Flags:") } ?? ""
        let flags = flagsLine.dropFirst(";; Flags:".count).prefix { $0 != ";" }.split(separator: " ").map(String.init)
        var section = ""
        var answers: [String] = []
        var authority: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix(";; ANSWER SECTION") { section = "answer"; continue }
            if line.hasPrefix(";; AUTHORITY SECTION") { section = "authority"; continue }
            if line.hasPrefix(";;") || line.isEmpty { if line.isEmpty { section = "" }; continue }
            let record = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
            if section == "answer" { answers.append(record) }
            if section == "authority" { authority.append(record) }
        }
        return Reply(status: String(status), flags: flags, answers: answers.sorted(), authority: authority.sorted(),
                     raw: text)
    }
}
