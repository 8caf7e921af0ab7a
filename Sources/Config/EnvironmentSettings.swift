import Configuration
import Yams

/// The `DNSGATE_*` variables of a process environment, sorted into what configures dnsgate and what does not.
///
/// A variable that names no key is not an error: Kubernetes injects `DNSGATE_SERVICE_HOST`, `DNSGATE_PORT_53_UDP`
/// and the like into every pod of a namespace with a Service named `dnsgate`, and wrapper scripts keep variables of
/// their own. Such names are reported once as a warning (``ignored``), except Kubernetes' service links, which are
/// dropped without a word. Typos in the YAML file stay errors.
///
/// A list value is comma-separated (`a,b`), or a YAML flow sequence when it starts with `[`
/// (`["127.0.0.1:53 allow=10.0.0.0/8,192.168.0.0/16", "tls://[::1]:853"]`), which can carry entries with commas.
struct EnvironmentSettings {
    /// The variables to read through swift-configuration's environment provider (comma lists, scalars).
    let plain: [String: String]
    /// The keys given as YAML flow sequences, already split into entries.
    let lists: [AbsoluteConfigKey: ConfigValue]
    /// `DNSGATE_*` variables that name no key, with the closest known one.
    let ignored: [UnknownConfigKey]

    init(_ environment: [String: String]) throws {
        var plain: [String: String] = [:]
        var lists: [AbsoluteConfigKey: ConfigValue] = [:]
        var ignored: [String] = []
        for (name, value) in environment {
            guard name.hasPrefix(ConfigSchema.variablePrefix) else {
                plain[name] = value
                continue
            }
            if Self.isServiceLink(name) { continue }
            guard let key = ConfigSchema.key(forVariable: name) else {
                ignored.append(name)
                continue
            }
            if value.first == "[" {
                lists[AbsoluteConfigKey(key.split(separator: ".").map(String.init))] =
                    ConfigValue(.stringArray(try Self.flowList(value, variable: name)), isSecret: false)
            } else {
                plain[name] = value
            }
        }
        self.plain = plain
        self.lists = lists
        self.ignored = ignored.sorted().map { name in
            UnknownConfigKey(name: name, source: .environment,
                             hint: ConfigSchema.didYouMean(name, among: ConfigSchema.variables))
        }
    }

    /// Kubernetes' service links for a Service named `dnsgate`: `DNSGATE_SERVICE_HOST`, `DNSGATE_SERVICE_PORT_*`,
    /// `DNSGATE_PORT`, `DNSGATE_PORT_53_UDP_PROTO`, ...
    static func isServiceLink(_ name: String) -> Bool {
        name.hasPrefix("DNSGATE_SERVICE_") || name == "DNSGATE_PORT" || name.hasPrefix("DNSGATE_PORT_")
    }

    private static func flowList(_ value: String, variable: String) throws -> [String] {
        let allowed = "a YAML list of strings such as [\"a\", \"b, c\"] (or entries separated by commas)"
        guard case .sequence(let items)? = try? Yams.compose(yaml: value) else {
            throw ConfigError(key: variable, value: value, allowed: allowed)
        }
        return try items.map { item in
            guard let text = item.string else { throw ConfigError(key: variable, value: value, allowed: allowed) }
            return text
        }
    }
}
