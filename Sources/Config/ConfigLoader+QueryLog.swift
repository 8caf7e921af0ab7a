/// The query log (`query_log.*`), off by default.
extension ConfigLoader {
    static let queryLogKeys = ["query_log.path", "query_log.max_size", "query_log.keep"]

    /// The settings, or nil when `query_log.path` is unset (off).
    static func queryLog(_ values: ConfigValues) throws -> QueryLogSettings? {
        guard let path = try values.scalar("query_log.path"), !path.isEmpty, path != "off" else { return nil }
        return QueryLogSettings(
            path: path == "-" ? nil : path,
            maxSize: try values.byteSize("query_log.max_size", default: 64 << 20),
            keep: try values.int("query_log.keep", default: 5, in: 0...100))
    }
}

/// Where the query log goes and how it is rotated.
public struct QueryLogSettings: Sendable, Hashable {
    /// The file, or nil for standard output.
    public var path: String?
    /// A file reaching this size is renamed to `path.1` and a new one begun.
    public var maxSize: Int
    /// Rotated files kept.
    public var keep: Int
}
