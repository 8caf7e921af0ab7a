import ArgumentParser
import Config
import DNSCore
import DNSGateApp
import Foundation
import Logging

/// The command line: `dnsgate serve` (default), `dnsgate check-config`, `dnsgate version`.
@main
struct DNSGateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dnsgate",
        abstract: "A fast DNS proxy: plain DNS in, DNS-over-TLS out.",
        subcommands: [Serve.self, CheckConfig.self, FakeIPCommand.self, Version.self],
        defaultSubcommand: Serve.self)
}

/// Flags shared by the commands that read the configuration.
struct ConfigOptions: ParsableArguments, Sendable {
    @Option(name: .long, help: "YAML configuration file (also DNSGATE_CONFIG).")
    var config: String?

    @Option(name: .long, help: "Address to serve UDP and TCP on, e.g. 127.0.0.1:5353 or [::1]:53; tls://ADDRESS[:853] for DoT, https://ADDRESS[:443][/path] for DoH (repeatable).")
    var listen: [String] = []

    @Option(name: .long, help: "Upstream: tls://host[:port][#tls-name], https://host[:port][/path][#tls-name], tcp://host[:port] or udp://host[:port], optionally followed by options such as ' weight=3' or ' method=get' (repeatable).")
    var upstream: [String] = []

    @Option(name: .customLong("upstream-policy"),
            help: "How queries are spread over the upstreams: sequential (default), round_robin, random, weighted or fastest.")
    var upstreamPolicy: String?

    @Option(name: .long, help: "Plain-DNS server that resolves upstream host names: udp://IP[:port] or tcp://IP[:port] (repeatable; default: the system resolver).")
    var bootstrap: [String] = []

    @Option(name: .customLong("ca-file"), help: "PEM file of extra trust anchors for DoT upstreams (repeatable).")
    var caFile: [String] = []

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String?

    @Option(name: .customLong("admin-listen"),
            help: "Address of the admin listener (metrics, health, API, dashboard), default 127.0.0.1:9153, or off.")
    var adminListen: String?

    @Option(name: .customLong("admin-token-file"), help: "File holding the admin API's bearer token.")
    var adminTokenFile: String?

    @Option(name: .long, help: "Blocklist file or http(s) URL in hosts, plain-domain or Adblock format (repeatable).")
    var blocklist: [String] = []

    @Option(name: .customLong("tls-cert"), help: "PEM certificate chain of the DoT and DoH listeners (reloaded when it changes).")
    var tlsCert: String?

    @Option(name: .customLong("tls-key"), help: "PEM private key of the DoT and DoH listeners.")
    var tlsKey: String?

    @Option(name: .customLong("query-log"), help: "Log every query as a JSON line to this file (rotated by size), or - for standard output.")
    var queryLog: String?

    func load() async throws -> DNSGateConfig {
        try await ConfigLoader.load(overrides: ConfigOverrides(
            configFile: self.config, listen: self.listen, upstreams: self.upstream, upstreamPolicy: self.upstreamPolicy,
            bootstrap: self.bootstrap, caFiles: self.caFile, logLevel: self.logLevel, adminListen: self.adminListen,
            adminTokenFile: self.adminTokenFile, blocklists: self.blocklist, tlsCertificateFile: self.tlsCert,
            tlsKeyFile: self.tlsKey, queryLog: self.queryLog))
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the proxy (the default command).")

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let config = try await self.options.load()
        LogLevelSetting.bootstrapLogging(level: config.logLevel)
        let logger = Logger(label: "dnsgate")
        if let warning = config.ignoredVariablesWarning { logger.warning("\(warning)") }
        let options = self.options
        try await DNSGateApp.run(config: config, logger: logger,
                                 loadConfiguration: { try await options.load() })
    }
}

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config", abstract: "Validate the configuration and print the settings in force, secrets masked.")

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let config = try await self.options.load()
        if let warning = config.ignoredVariablesWarning {
            FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
        }
        print("configuration OK")
        for (key, value) in config.effectiveSettings.sorted(by: { $0.key < $1.key }) { print("\(key): \(value)") }
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version.")

    func run() {
        print("dnsgate \(DNSGateApp.version)")
    }
}
