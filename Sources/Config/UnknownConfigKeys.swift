/// A key in the configuration file, or a `DNSGATE_*` variable, that dnsgate does not know.
public struct UnknownConfigKey: Hashable, Sendable, CustomStringConvertible {
    /// Where the key was found.
    public enum Source: Hashable, Sendable {
        case file(String, line: Int)
        case environment
    }

    /// The dotted key (`cahce.max_size`, `fakeip.exclude[0].nmae`) or the variable's name.
    public let name: String
    public let source: Source
    /// What the user probably meant (the closest known key), if anything is known.
    public let hint: String?

    public var description: String {
        let hint = self.hint.map { "; \($0)" } ?? ""
        switch self.source {
        case .file(let file, let line):
            return "\(file):\(line): unknown key '\(self.name)'\(hint)"
        case .environment:
            return "unknown environment variable '\(self.name)'\(hint)"
        }
    }
}

/// Keys in the configuration that dnsgate does not know: every one of them, a line each, so that a typo is never
/// silently replaced by a default.
public struct UnknownConfigKeys: Error, Hashable, Sendable, CustomStringConvertible {
    public let keys: [UnknownConfigKey]

    public var description: String {
        self.keys.map(\.description).joined(separator: "\n")
    }
}
