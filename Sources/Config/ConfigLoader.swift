import Configuration
import Foundation
import DNSCore
import Logging
import NIOCore
import SystemPackage

/// Reads dnsgate's configuration from, in order of precedence, command-line flags, `DNSGATE_*` environment
/// variables and a YAML file, and validates it into a ``DNSGateConfig``. Each section's keys and their validation
/// live in a file of their own (`ConfigLoader+Cache.swift`, …); ``ConfigSchema`` lists them all, so that a key
/// nobody reads is reported instead of silently ignored.
public enum ConfigLoader {
    /// Loads and validates. `environment` defaults to the process environment. Unknown keys in the file throw
    /// ``UnknownConfigKeys`` before any value is looked at; unknown `DNSGATE_*` variables are listed in
    /// ``DNSGateConfig/ignoredVariables``.
    public static func load(
        overrides: ConfigOverrides,
        environment: [String: String]? = nil
    ) async throws -> DNSGateConfig {
        let environment = environment ?? ProcessInfo.processInfo.environment
        let settings = try EnvironmentSettings(environment)
        let env = EnvironmentVariablesProvider(environmentVariables: settings.plain).prefixKeys(with: ["dnsgate"])
        let configFile = overrides.configFile ?? ConfigReader(provider: env).string(forKey: "config")
        var providers: [any ConfigProvider] = [
            InMemoryProvider(name: "flags", values: Self.values(of: overrides)),
            InMemoryProvider(name: "environment lists", values: settings.lists),
            env,
        ]
        if let configFile {
            guard let contents = FileManager.default.contents(atPath: configFile) else {
                throw ConfigError(key: "config", value: configFile, allowed: "a readable YAML file (cannot read it)")
            }
            let text = String(decoding: contents, as: UTF8.self)
            // A file with nothing but comments sets nothing; YAML calls it empty, not a mapping.
            let settings = text.split(whereSeparator: \.isNewline).filter {
                let line = $0.drop(while: { $0 == " " || $0 == "\t" })
                return !line.isEmpty && !line.hasPrefix("#") && line != "---"
            }
            if !settings.isEmpty {
                // Unknown keys first: a misspelt key can also be what makes the file unreadable as configuration.
                let unknown = try ConfigSchema.unknownKeys(inYAML: text, file: configFile)
                guard unknown.isEmpty else { throw UnknownConfigKeys(keys: unknown) }
                do {
                    providers.append(try await FileProvider<YAMLSnapshot>(filePath: FilePath(configFile)))
                } catch {
                    throw ConfigError(key: "config", value: configFile, allowed: "a readable YAML file (\(error))")
                }
            }
        }
        var config = try Self.validate(ConfigReader(providers: providers), environment: environment)
        config.ignoredVariables = settings.ignored
        return config
    }

    private static func values(of overrides: ConfigOverrides) -> [AbsoluteConfigKey: ConfigValue] {
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        if !overrides.listen.isEmpty { values["listen"] = ConfigValue(.stringArray(overrides.listen), isSecret: false) }
        if !overrides.upstreams.isEmpty {
            values["upstreams"] = ConfigValue(.stringArray(overrides.upstreams), isSecret: false)
        }
        if !overrides.bootstrap.isEmpty {
            values["bootstrap"] = ConfigValue(.stringArray(overrides.bootstrap), isSecret: false)
        }
        if let policy = overrides.upstreamPolicy {
            values["upstream.policy"] = ConfigValue(.string(policy), isSecret: false)
        }
        if !overrides.caFiles.isEmpty {
            values["tls.ca_files"] = ConfigValue(.stringArray(overrides.caFiles), isSecret: false)
        }
        if let path = overrides.queryLog { values["query_log.path"] = ConfigValue(.string(path), isSecret: false) }
        if let certificate = overrides.tlsCertificateFile {
            values["tls.cert_file"] = ConfigValue(.string(certificate), isSecret: false)
        }
        if let key = overrides.tlsKeyFile { values["tls.key_file"] = ConfigValue(.string(key), isSecret: false) }
        if !overrides.blocklists.isEmpty {
            values["blocking.sources"] = ConfigValue(.stringArray(overrides.blocklists), isSecret: false)
        }
        if let level = overrides.logLevel { values["log.level"] = ConfigValue(.string(level), isSecret: false) }
        if let admin = overrides.adminListen { values["admin.listen"] = ConfigValue(.string(admin), isSecret: false) }
        if let file = overrides.adminTokenFile {
            values["admin.token_file"] = ConfigValue(.string(file), isSecret: false)
        }
        return values
    }

    /// The keys that belong to no section: logging, the overall query timeout, threads and shutdown.
    static let generalKeys = ["log.level", "timeouts.query", "threads", "shutdown_grace_period"]

    /// Turns raw values into a ``DNSGateConfig``, or throws a ``ConfigError`` for the first bad one.
    static func validate(_ reader: ConfigReader, environment: [String: String]) throws -> DNSGateConfig {
        let values = ConfigValues(reader: reader)
        let levelText = try values.scalar("log.level") ?? "info"
        guard let logLevel = Logger.Level(rawValue: levelText.lowercased()) else {
            throw ConfigError(key: "log.level", value: levelText,
                              allowed: "one of trace, debug, info, notice, warning, error, critical")
        }
        let entries = try Self.listeners(values)
        let listeners = entries.map(\.address)
        let accessControl = try Self.accessControl(values)
        return DNSGateConfig(
            listeners: listeners,
            listenerCertificate: try Self.listenerCertificate(values, listeners: listeners),
            listenerAccess: Self.listenerAccess(entries, global: accessControl),
            upstreams: try Self.upstreams(values),
            upstreamSelection: try Self.upstreamSelection(values),
            bootstrap: try Self.bootstrapServers(values),
            forwarding: try Self.forwardingRules(values),
            caFiles: try values.list("tls.ca_files", default: [], allowEmpty: true),
            queryTimeout: try values.duration("timeouts.query", default: .seconds(5)),
            upstreamAttemptTimeout: try values.duration("upstream.attempt_timeout", default: .milliseconds(1500)),
            upstreamConnectTimeout: try values.duration("upstream.connect_timeout", default: .seconds(2)),
            upstreamIdleTimeout: try values.duration("upstream.idle_timeout", default: .seconds(30)),
            upstreamConnectionsPerThread: try values.int("upstream.connections_per_thread", default: 4, in: 1...16),
            upstreamQueriesPerConnection: try values.int("upstream.queries_per_connection", default: 100,
                                                         in: 1...60_000),
            upstreamMaxInFlight: try values.int("upstream.max_in_flight", default: 1000, in: 1...60_000),
            tcpIdleTimeout: try values.duration("tcp.idle_timeout", default: .seconds(10)),
            tcpMaxConnections: try values.int("tcp.max_connections", default: 1000, in: 1...1_000_000),
            tcpMaxConnectionsPerClient: try values.int("tcp.max_connections_per_client", default: 64,
                                                       in: 1...1_000_000),
            tcpMaxQueriesPerConnection: try values.int("tcp.max_queries_per_connection", default: 100,
                                                       in: 1...65_535),
            threads: try values.int("threads", default: 0, in: 0...1024),
            shutdownGracePeriod: try values.duration("shutdown_grace_period", default: .seconds(5)),
            logLevel: logLevel,
            cache: try Self.cachePolicy(values),
            cacheSaveFile: try values.scalar("cache.save_file"),
            cacheRedis: try Self.cacheRedis(values),
            cacheRedisTimeout: try values.duration("cache.redis_timeout", default: .milliseconds(25)),
            tun: try Self.tunSettings(values),
            fakeIP: try Self.fakeIPSettings(values, environment: environment),
            admin: try Self.adminSettings(values),
            accessControl: accessControl,
            rateLimit: try Self.rateLimit(values),
            minimalANY: try values.choice("any_queries", default: ANYQueries.minimal) == .minimal,
            localRecords: try Self.localRecords(values),
            blocking: try Self.blocking(values),
            queryLog: try Self.queryLog(values),
            dnssec: try Self.dnssec(values)
        )
    }
}
