import ArgumentParser
import Config
import DNSCore
import FakeIP
import Foundation

/// `dnsgate fakeip list` and `dnsgate fakeip lookup NAME|ADDRESS`: the fake-IP mapping, read from its database
/// (safe while dnsgate runs: SQLite in WAL mode lets readers in).
struct FakeIPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fakeip", abstract: "Show the fake-IP mapping.", subcommands: [List.self, Lookup.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every mapping, most recently used first.")
        @OptionGroup var options: ConfigOptions

        func run() async throws {
            for mapping in try await FakeIPCommand.mappings(self.options) {
                print(FakeIPCommand.line(mapping))
            }
        }
    }

    struct Lookup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The address of a name, or the name of an address.")
        @OptionGroup var options: ConfigOptions
        @Argument(help: "A domain name or a fake address.") var query: String

        func run() async throws {
            let address = IPAddress(self.query)
            let name = self.query.lowercased().hasSuffix(".") ? self.query.lowercased() : self.query.lowercased() + "."
            let found = try await FakeIPCommand.mappings(self.options).filter { mapping in
                (address != nil && mapping.address == address) || mapping.name == name
            }
            guard !found.isEmpty else { throw ValidationError("no mapping for \(self.query)") }
            for mapping in found { print(FakeIPCommand.line(mapping)) }
        }
    }

    static func mappings(_ options: ConfigOptions) async throws -> [(address: IPAddress, name: String, lastUsed: Int64)] {
        let config = try await options.load()
        let path = config.fakeIP?.database
            ?? FakeIPSettings.defaultDatabase(environment: ProcessInfo.processInfo.environment)
        let store = try FakeIPStore(readingExisting: path)
        var result: [(address: IPAddress, name: String, lastUsed: Int64)] = []
        for rangeText in try store.ranges() {
            guard let prefix = IPPrefix(rangeText), let range = FakeIPRange(prefix) else { continue }
            let saved = try store.load(range: rangeText)
            result += saved.mappings.map { (range.address(at: $0.index), $0.name, $0.lastUsed) }
        }
        return result.sorted { $0.lastUsed > $1.lastUsed }
    }

    static func line(_ mapping: (address: IPAddress, name: String, lastUsed: Int64)) -> String {
        let when = Date(timeIntervalSince1970: TimeInterval(mapping.lastUsed)).ISO8601Format()
        return "\(mapping.address)\t\(mapping.name)\t\(when)"
    }
}
