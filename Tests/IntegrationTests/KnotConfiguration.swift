/// knotd's configuration for a test: `zones` (domain and file) served from loopback `port`, its database, control
/// socket and zone storage in `directory`, mod-stats counting queries, no semantic checks (zones broken on purpose
/// must load) and no journal.
func knotConfiguration(directory: String, port: Int, zones: [(domain: String, file: String)]) -> String {
    let entries = zones.map { "  - domain: \"\($0.domain)\"\n    file: \"\($0.file)\"" }
    return """
        server:
            rundir: "\(directory)"
            listen: 127.0.0.1@\(port)
        log:
          - target: stderr
            any: notice
        database:
            storage: "\(directory)/knot-db"
        control:
            listen: "\(directory)/knot.sock"
        template:
          - id: default
            global-module: mod-stats
            storage: "\(directory)"
            semantic-checks: off
            journal-content: none
            zonefile-sync: -1
        zone:
        \(entries.joined(separator: "\n"))
        """
}
