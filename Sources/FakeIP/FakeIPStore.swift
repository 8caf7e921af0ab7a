import Foundation
import GRDB

/// Why the fake-IP database cannot be used.
public struct FakeIPStoreError: Error, CustomStringConvertible, Hashable {
    private enum Base: Hashable {
        case cannotOpen(path: String, reason: String)
        case missing(path: String)
        case cannotRead(path: String, reason: String)
        case cannotWrite(path: String, reason: String)
    }

    private let base: Base

    private init(_ base: Base) {
        self.base = base
    }

    /// The database could not be opened or created.
    public static func cannotOpen(_ path: String, reason: String) -> Self { Self(.cannotOpen(path: path, reason: reason)) }
    /// There is no database at `path` (reading an existing one only).
    public static func missing(_ path: String) -> Self { Self(.missing(path: path)) }
    /// The database could not be read.
    public static func cannotRead(_ path: String, reason: String) -> Self { Self(.cannotRead(path: path, reason: reason)) }
    /// A batch of mappings could not be written.
    public static func cannotWrite(_ path: String, reason: String) -> Self {
        Self(.cannotWrite(path: path, reason: reason))
    }

    public var description: String {
        switch self.base {
        case .cannotOpen(let path, let reason): return "cannot open the fake-IP database \(path): \(reason)"
        case .missing(let path): return "no fake-IP database at \(path)"
        case .cannotRead(let path, let reason): return "cannot read the fake-IP database \(path): \(reason)"
        case .cannotWrite(let path, let reason): return "cannot write the fake-IP database \(path): \(reason)"
        }
    }
}

/// The fake-IP mappings on disk: SQLite in WAL mode through GRDB, so a crash loses at most the batch being written
/// and never corrupts the file. One row per mapping and one per range for the allocator's position, keyed by the
/// range, so that a changed range starts a pool of its own instead of reinterpreting old rows.
public final class FakeIPStore: Sendable {
    public let path: String
    private let database: DatabasePool

    /// Opens (or creates) the database at `path`, creating its directory; any failure is a clear error.
    public init(path: String) throws {
        self.path = path
        let directory = (path as NSString).deletingLastPathComponent
        do {
            if !directory.isEmpty {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            }
            var configuration = Configuration()
            configuration.busyMode = .timeout(5)
            self.database = try DatabasePool(path: path, configuration: configuration)
            var migrator = DatabaseMigrator()
            migrator.registerMigration("v1") { db in
                try db.execute(sql: """
                    CREATE TABLE mapping (
                        range TEXT NOT NULL,
                        idx INTEGER NOT NULL,
                        name TEXT NOT NULL,
                        last_used INTEGER NOT NULL,
                        PRIMARY KEY (range, idx),
                        UNIQUE (range, name)
                    );
                    CREATE TABLE allocator (range TEXT PRIMARY KEY, cursor INTEGER NOT NULL);
                    """)
            }
            try migrator.migrate(self.database)
        } catch {
            throw FakeIPStoreError.cannotOpen(path, reason: "\(error)")
        }
    }

    /// Opens an existing database without creating or changing anything (for `dnsgate fakeip`).
    public init(readingExisting path: String) throws {
        self.path = path
        guard FileManager.default.fileExists(atPath: path) else {
            throw FakeIPStoreError.missing(path)
        }
        do {
            var configuration = Configuration()
            configuration.readonly = true
            self.database = try DatabasePool(path: path, configuration: configuration)
        } catch {
            throw FakeIPStoreError.cannotRead(path, reason: "\(error)")
        }
    }

    /// The ranges with mappings in the database.
    public func ranges() throws -> [String] {
        try self.database.read { db in try String.fetchAll(db, sql: "SELECT range FROM allocator ORDER BY range") }
    }

    /// Every mapping and the allocator's position for `range`.
    public func load(range: String) throws -> (mappings: [(index: Int, name: String, lastUsed: Int64)], cursor: Int) {
        do {
            return try self.database.read { db in
                let rows = try Row.fetchAll(db, sql: "SELECT idx, name, last_used FROM mapping WHERE range = ?",
                                            arguments: [range])
                let cursor = try Int.fetchOne(db, sql: "SELECT cursor FROM allocator WHERE range = ?",
                                              arguments: [range]) ?? 0
                return (rows.map { (index: $0["idx"], name: $0["name"], lastUsed: $0["last_used"]) }, cursor)
            }
        } catch {
            throw FakeIPStoreError.cannotRead(self.path, reason: "\(error)")
        }
    }

    /// Writes `changes` for `range` in one transaction, on the calling thread.
    public func write(_ changes: [FakeIPPool.Change], range: String) throws {
        guard !changes.isEmpty else { return }
        try self.database.write { db in
            for change in changes {
                switch change {
                case .set(let index, let name, let lastUsed):
                    try db.execute(sql: "INSERT OR REPLACE INTO mapping (range, idx, name, last_used) VALUES (?, ?, ?, ?)",
                                   arguments: [range, index, name, lastUsed])
                case .remove(let index):
                    try db.execute(sql: "DELETE FROM mapping WHERE range = ? AND idx = ?", arguments: [range, index])
                case .cursor(let cursor):
                    try db.execute(sql: "INSERT OR REPLACE INTO allocator (range, cursor) VALUES (?, ?)",
                                   arguments: [range, cursor])
                }
            }
        }
    }
}
