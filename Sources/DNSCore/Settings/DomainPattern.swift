/// A domain pattern for exclusions and rules: `example.com` matches the name and every name below it,
/// `*.example.com` only the names below it, `*` every name. Case is ignored; a trailing dot is optional.
public struct DomainPattern: Sendable, Hashable, CustomStringConvertible {
    private let suffix: String
    private let subdomainsOnly: Bool

    public init?(_ text: String) {
        var pattern = text.lowercased()
        if pattern == "*" || pattern == "." {
            self.suffix = ""
            self.subdomainsOnly = false
            return
        }
        if pattern.hasSuffix(".") { pattern.removeLast() }
        let subdomainsOnly = pattern.hasPrefix("*.")
        if subdomainsOnly { pattern.removeFirst(2) }
        guard !pattern.isEmpty, !pattern.contains("*"), !pattern.hasPrefix("."), !pattern.contains("..") else {
            return nil
        }
        self.suffix = pattern
        self.subdomainsOnly = subdomainsOnly
    }

    /// Whether `name` (lowercase presentation form, trailing dot optional) matches.
    public func matches(_ name: String) -> Bool {
        guard !self.suffix.isEmpty else { return true }
        let name = name.hasSuffix(".") ? Substring(name.dropLast()) : Substring(name)
        if name == self.suffix { return !self.subdomainsOnly }
        return name.hasSuffix(self.suffix) && name.dropLast(self.suffix.count).hasSuffix(".")
    }

    public var description: String {
        self.suffix.isEmpty ? "*" : (self.subdomainsOnly ? "*." : "") + self.suffix
    }
}
