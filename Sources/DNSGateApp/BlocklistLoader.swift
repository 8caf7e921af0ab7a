import AsyncHTTPClient
import NIOHTTP1
import Config
import DNSPolicy
import Foundation
import Logging
import NIOCore
import Synchronization

/// Reads the lists of ``BlockingSettings`` from their sources (files, and http(s) URLs fetched with
/// AsyncHTTPClient) into the client groups of a ``BlockingPolicy``, and again every refresh interval. A source that
/// cannot be read keeps what it gave last time (nothing, at the start), so a failed refresh never empties a list.
final class BlocklistLoader: Sendable {
    let settings: BlockingSettings
    private let logger: Logger
    /// Each source's rules as last read.
    private let sources: Mutex<[String: DomainRules]>
    private let current: Mutex<BlockingPolicy>
    /// Called with each new policy after a refresh (to build a pipeline around it).
    private let updated = Mutex<(@Sendable (BlockingPolicy) -> Void)?>(nil)

    /// Reads every file source now (URL sources are fetched by ``run()``).
    init(settings: BlockingSettings, logger: Logger) {
        self.settings = settings
        self.logger = logger
        self.sources = Mutex([:])
        self.current = Mutex(BlockingPolicy(groups: [], answer: settings.answer, nullTTL: settings.nullTTL))
        for list in settings.lists {
            for source in list.sources where !Self.isURL(source) {
                if let rules = self.read(file: source, list: list.name) { self.sources.withLock { $0[source] = rules } }
            }
        }
        self.publish()
    }

    /// The largest list fetched from a URL.
    static let maxDownload = 256 << 20

    /// Fetches the URL sources now, then refreshes every source each refresh interval until cancelled.
    func run() async {
        await self.fetchURLs()
        while !Task.isCancelled {
            try? await Task.sleep(for: .nanoseconds(self.settings.refreshInterval.nanoseconds))
            guard !Task.isCancelled else { return }
            await self.fetchURLs()
            self.refresh()
        }
    }

    /// Fetches every URL source; each one that arrives whole with status 200 replaces what that source gave before.
    private func fetchURLs() async {
        let urls = self.settings.lists.flatMap { list in list.sources.filter(Self.isURL).map { (list.name, $0) } }
        guard !urls.isEmpty else { return }
        for (list, url) in urls {
            let started = ContinuousClock.now
            do {
                let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(60))
                guard response.status == .ok else {
                    throw BlocklistFetchError.status(response.status.code)
                }
                let body = try await response.body.collect(upTo: Self.maxDownload)
                let rules = self.parse(Array(body.readableBytesView), source: url, list: list, started: started)
                self.sources.withLock { $0[url] = rules }
            } catch {
                self.logger.error("cannot fetch blocklist; keeping what it had",
                                  metadata: ["list": "\(list)", "source": "\(url)", "error": "\(error)"])
            }
        }
        self.publish()
    }

    /// Reads every source again and publishes the groups.
    func refresh() {
        for list in self.settings.lists {
            for source in list.sources where !Self.isURL(source) {
                if let rules = self.read(file: source, list: list.name) { self.sources.withLock { $0[source] = rules } }
            }
        }
        self.publish()
    }

    /// The policy from the lists as last read.
    var policy: BlockingPolicy { self.current.withLock { $0 } }

    /// Calls `body` with each new policy from now on.
    func onUpdate(_ body: @escaping @Sendable (BlockingPolicy) -> Void) {
        self.updated.withLock { $0 = body }
    }

    static func isURL(_ source: String) -> Bool {
        source.hasPrefix("http://") || source.hasPrefix("https://")
    }

    /// Builds each group's rules from its lists' sources and hands them to the policy.
    private func publish() {
        let sources = self.sources.withLock { $0 }
        var lists: [String: DomainRules] = [:]
        for list in self.settings.lists {
            var rules = DomainRules()
            for source in list.sources { if let read = sources[source] { rules.formUnion(read) } }
            lists[list.name] = list.allows ? rules.allowing() : rules
        }
        let groups = self.settings.groupsWithDefault.map { group in
            var rules = DomainRules()
            for name in group.lists { if let list = lists[name] { rules.formUnion(list) } }
            return ClientGroup(name: group.name, clients: group.clients, rules: rules)
        }
        let policy = BlockingPolicy(groups: groups, answer: self.settings.answer, nullTTL: self.settings.nullTTL)
        self.current.withLock { $0 = policy }
        self.updated.withLock { $0 }?(policy)
        self.logger.info("blocklists loaded", metadata: [
            "groups": "\(groups.map { "\($0.name): \($0.rules.count)" }.joined(separator: ", "))",
        ])
    }

    private func read(file path: String, list: String) -> DomainRules? {
        let started = ContinuousClock.now
        guard let contents = FileManager.default.contents(atPath: path) else {
            self.logger.error("cannot read blocklist; keeping what it had", metadata: ["list": "\(list)", "source": "\(path)"])
            return nil
        }
        return self.parse([UInt8](contents), source: path, list: list, started: started)
    }

    private func parse(_ contents: [UInt8], source: String, list: String, started: ContinuousClock.Instant)
        -> DomainRules
    {
        let result = BlocklistParser.parse(contents)
        for problem in result.problems {
            self.logger.warning("blocklist line skipped", metadata: [
                "source": "\(source)", "line": "\(problem.line)", "reason": "\(problem.reason)",
            ])
        }
        self.logger.notice("blocklist read", metadata: [
            "list": "\(list)", "source": "\(source)", "entries": "\(result.entries)",
            "skipped": "\(result.problemCount)", "took": "\(ContinuousClock.now - started)",
        ])
        return result.rules
    }
}

/// A blocklist URL answered with something other than a list.
struct BlocklistFetchError: Error, CustomStringConvertible, Hashable {
    private enum Base: Hashable {
        case status(UInt)
    }

    private let base: Base

    private init(_ base: Base) {
        self.base = base
    }

    /// The server answered with an HTTP status other than 200.
    static func status(_ code: UInt) -> Self { Self(.status(code)) }

    var description: String {
        switch self.base {
        case .status(let code): return "HTTP status \(code)"
        }
    }
}
