import Configuration
import Foundation
import SystemPackage
import Synchronization
import Testing
@testable import Config

@Suite struct UnknownKeyTests {
    private func writeFile(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dnsgate-\(UUID().uuidString).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The lines of the error that loading `yaml` (and `environment`) throws, with the file's path cut off.
    private func problems(yaml: String?, environment: [String: String] = [:]) async throws -> [String] {
        let path = try yaml.map(self.writeFile)
        do {
            _ = try await ConfigLoader.load(overrides: ConfigOverrides(configFile: path), environment: environment)
            return []
        } catch let error as UnknownConfigKeys {
            return error.keys.map { key in
                path.map { key.description.replacingOccurrences(of: $0, with: "FILE") } ?? key.description
            }
        }
    }

    @Test(arguments: [
        ("lisen: [127.0.0.1:53]\n", "FILE:1: unknown key 'lisen'; did you mean 'listen'?"),
        ("cahce:\n  max_size: 64MiB\n", "FILE:2: unknown key 'cahce.max_size'; did you mean 'cache.max_size'?"),
        ("cache:\n  enabled: true\n  max_szie: 1MiB\n",
         "FILE:3: unknown key 'cache.max_szie'; did you mean 'cache.max_size'?"),
        ("fakeip:\n  proxy:\n    jurnal: true\n",
         "FILE:3: unknown key 'fakeip.proxy.jurnal'; did you mean 'fakeip.proxy.journal'?"),
        ("max_size: 1MiB\n", "FILE:1: unknown key 'max_size'; did you mean 'cache.max_size' or 'query_log.max_size'?"),
        ("fakeip:\n  exclude:\n    - example.com\n    - nmae: corp.example\n",
         "FILE:4: unknown key 'fakeip.exclude[1].nmae'; 'fakeip.exclude[1]' takes a value or a list of values"),
        ("listen:\n  address: 127.0.0.1:53\n",
         "FILE:2: unknown key 'listen.address'; 'listen' takes a value or a list of values"),
        ("cache: off\n", "FILE:1: unknown key 'cache'; it is a section and takes keys such as 'cache.enabled'"),
        ("frobnicate: 3\n", "FILE:1: unknown key 'frobnicate'"),
    ])
    func aKeyNoSectionReadsIsNamedWithItsLineAndTheKeyMeant(yaml: String, expected: String) async throws {
        #expect(try await self.problems(yaml: yaml) == [expected])
    }

    @Test func everyUnknownKeyOfTheFileIsReportedAtOnce() async throws {
        let problems = try await self.problems(
            yaml: "listen: [127.0.0.1:53]\ntimeouts:\n  qeury: 2s\ntun:\n  enabled: false\n  nmae: x\n",
            environment: ["DNSGATE_CAHCE_MAX_SIZE": "1MiB", "DNSGATE_TIMEOUTS_QUERY": "2s", "HOME": "/root"])
        #expect(problems == [
            "FILE:3: unknown key 'timeouts.qeury'; did you mean 'timeouts.query'?",
            "FILE:6: unknown key 'tun.nmae'; did you mean 'tun.name'?",
        ])
    }

    /// Kubernetes' service links for a Service named `dnsgate` and a wrapper's own variables do not stop start-up:
    /// the links are dropped silently, anything else is one warning that names the key probably meant.
    @Test func unknownVariablesAreAWarningAndServiceLinksAreIgnored() async throws {
        let config = try await ConfigLoader.load(overrides: ConfigOverrides(), environment: [
            "DNSGATE_SERVICE_HOST": "10.96.0.10", "DNSGATE_SERVICE_PORT": "53", "DNSGATE_SERVICE_PORT_DNS": "53",
            "DNSGATE_PORT": "udp://10.96.0.10:53", "DNSGATE_PORT_53_UDP": "udp://10.96.0.10:53",
            "DNSGATE_PORT_53_UDP_PROTO": "udp", "DNSGATE_PORT_53_UDP_ADDR": "10.96.0.10",
            "DNSGATE_CAHCE_MAX_SIZE": "1MiB", "DNSGATE_TIMEOUTS_QUERY": "2s",
        ])
        #expect(config.queryTimeout == .seconds(2))
        #expect(config.ignoredVariables.map(\.name) == ["DNSGATE_CAHCE_MAX_SIZE"])
        #expect(config.ignoredVariablesWarning
                == "ignoring unknown environment variables: DNSGATE_CAHCE_MAX_SIZE (did you mean 'DNSGATE_CACHE_MAX_SIZE'?)")
        let clean = try await ConfigLoader.load(overrides: ConfigOverrides(), environment: ["DNSGATE_PORT": "x"])
        #expect(clean.ignoredVariablesWarning == nil)
    }

    @Test func anEmptySectionAndTheExampleFilePass() async throws {
        #expect(try await self.problems(yaml: "cache:\nlisten: [127.0.0.1:53]\n").isEmpty)
        let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("dnsgate.example.yaml").path
        let text = try String(contentsOfFile: example, encoding: .utf8)
        #expect(try await self.problems(yaml: text).isEmpty)
    }

    /// The schema and the sections agree: loading the example file with every mode on reads exactly the keys the
    /// schema lists, so a key added to a section without the schema (or the other way round) fails here.
    @Test func theSchemaListsExactlyTheKeysTheSectionsRead() async throws {
        let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("dnsgate.example.yaml").path
        let everyMode: [AbsoluteConfigKey: ConfigValue] = [
            "tun.enabled": "true", "fakeip.enabled": "true", "fakeip.proxy.listen": "0.0.0.0:15400",
            "fakeip.socks5.server": "socks5://127.0.0.1:1080", "fakeip.socks5.domains": "example.com",
            "cache.redis": "redis://127.0.0.1:6379", "rate_limit.qps": "100",
            "blocking.sources": "/etc/dnsgate/blocklist.txt", "query_log.path": "/var/log/dnsgate/queries.log",
            "dnssec.validate": "true",
        ]
        let reported = KeyRecorder()
        let reader = ConfigReader(providers: [InMemoryProvider(values: everyMode),
                                              try await FileProvider<YAMLSnapshot>(filePath: FilePath(example))],
                                  accessReporter: reported)
        _ = try ConfigLoader.validate(reader, environment: [:])
        #expect(reported.keys.withLock { $0 } == ConfigSchema.keys)
    }
}

/// The keys a configuration reader was asked for.
private final class KeyRecorder: AccessReporter {
    let keys = Mutex<Set<String>>([])

    func report(_ event: AccessEvent) {
        self.keys.withLock { _ = $0.insert(event.metadata.key.components.joined(separator: ".")) }
    }
}
