import Foundation
import Yams

/// Every configuration key dnsgate reads, gathered from the sections, and the checks that report a key in the
/// YAML file or a `DNSGATE_*` variable that no section reads (a typo would otherwise leave a default in force).
enum ConfigSchema {
    /// The known keys, dotted (`cache.max_size`).
    static let keys: Set<String> = Set(
        ConfigLoader.generalKeys + ConfigLoader.listenerKeys + ConfigLoader.upstreamKeys + ConfigLoader.cacheKeys
            + ConfigLoader.forwardingKeys + ConfigLoader.tunKeys + ConfigLoader.fakeIPKeys + ConfigLoader.adminKeys
            + ConfigLoader.accessControlKeys + ConfigLoader.rateLimitKeys + ConfigLoader.localRecordKeys
            + ConfigLoader.blockingKeys + ConfigLoader.queryLogKeys + ConfigLoader.dnssecKeys)

    /// Every mapping that holds keys (`cache`, `fakeip`, `fakeip.proxy`): each proper prefix of a key.
    static let sections: Set<String> = Set(Self.keys.flatMap { key in
        let parts = key.split(separator: ".")
        return (1..<parts.count).map { parts.prefix($0).joined(separator: ".") }
    })

    static let variablePrefix = "DNSGATE_"

    /// The key of each environment variable (`DNSGATE_CACHE_MAX_SIZE` → `cache.max_size`), with `DNSGATE_CONFIG`,
    /// which names the file.
    private static let keysByVariable: [String: String] = Dictionary(
        uniqueKeysWithValues: (Self.keys.sorted() + ["config"]).map { (Self.variable(for: $0), $0) })

    /// Every variable that names a key.
    static var variables: Set<String> { Set(Self.keysByVariable.keys) }

    static func variable(for key: String) -> String {
        Self.variablePrefix + key.uppercased().replacingOccurrences(of: ".", with: "_")
    }

    /// The key `name` sets, or nil when it names none.
    static func key(forVariable name: String) -> String? {
        Self.keysByVariable[name]
    }

    /// The keys of a YAML configuration that name no key, with the line of each; throws ``ConfigError`` when the
    /// text is not YAML or not a mapping.
    static func unknownKeys(inYAML text: String, file: String) throws -> [UnknownConfigKey] {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw ConfigError(key: "config", value: file, allowed: "a readable YAML file (\(error))")
        }
        guard let root else { return [] }
        guard case .mapping = root else {
            throw ConfigError(key: "config", value: file, allowed: "a YAML mapping of keys such as 'listen' or 'cache'")
        }
        var unknown: [UnknownConfigKey] = []
        Self.check(root, at: "", file: file, into: &unknown)
        return unknown
    }

    /// Reports what in `node`, found at `path`, is not a known key: a mapping's keys are checked against the
    /// schema; what sits below a known key (a mapping given for a value, or inside a list item) is unknown.
    private static func check(_ node: Node, at path: String, file: String, into unknown: inout [UnknownConfigKey]) {
        switch node {
        case .mapping(let mapping):
            for (keyNode, value) in mapping {
                let name = keyNode.string ?? "\(keyNode)"
                let child = path.isEmpty ? name : path + "." + name
                let line = keyNode.mark?.line ?? 0
                if Self.keys.contains(child) {
                    Self.checkValue(value, of: child, file: file, into: &unknown)
                } else if case .mapping(let inner) = value, !inner.isEmpty {
                    // A section, or a misspelt one: each key in it is checked (and suggested) on its own.
                    Self.check(value, at: child, file: file, into: &unknown)
                } else if Self.sections.contains(child) {
                    // `cache: off` sets nothing; an empty `cache:` is harmless.
                    guard value.null == nil else { continue }
                    let example = Self.keys.filter { $0.hasPrefix(child + ".") }.sorted().first ?? child
                    unknown.append(UnknownConfigKey(name: child, source: .file(file, line: line),
                                                    hint: "it is a section and takes keys such as '\(example)'"))
                } else {
                    unknown.append(UnknownConfigKey(name: child, source: .file(file, line: line),
                                                    hint: Self.didYouMean(child, among: Self.keys)))
                }
            }
        case .sequence(let items):
            for (index, item) in items.enumerated() {
                Self.check(item, at: "\(path)[\(index)]", file: file, into: &unknown)
            }
        case .scalar, .alias:
            break
        }
    }

    /// A known key takes a value or a list of values: any key below it is unknown.
    private static func checkValue(_ value: Node, of key: String, file: String,
                                   into unknown: inout [UnknownConfigKey]) {
        switch value {
        case .mapping(let mapping):
            for (keyNode, _) in mapping {
                let name = key + "." + (keyNode.string ?? "\(keyNode)")
                unknown.append(UnknownConfigKey(name: name, source: .file(file, line: keyNode.mark?.line ?? 0),
                                                hint: "'\(key)' takes a value or a list of values"))
            }
        case .sequence(let items):
            for (index, item) in items.enumerated() {
                Self.checkValue(item, of: "\(key)[\(index)]", file: file, into: &unknown)
            }
        case .scalar, .alias:
            break
        }
    }

    static func didYouMean(_ name: String, among candidates: Set<String>) -> String? {
        ClosestMatch.suggestion(for: name, among: candidates).map { "did you mean '\($0)'?" }
    }
}
