/// Where Redis is: `redis://[[user]:password@]host[:port][/db]`.
public struct RedisURL: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var database: Int
    public var username: String?
    public var password: String?

    public init(_ text: String) throws {
        guard text.hasPrefix("redis://") else {
            throw RedisURLError.wrongScheme
        }
        var rest = Substring(text.dropFirst("redis://".count))
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let user = credentials[..<colon]
                self.username = user.isEmpty ? nil : String(user)
                self.password = String(credentials[credentials.index(after: colon)...])
            } else {
                self.password = String(credentials)
            }
        }
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let path = rest[rest.index(after: slash)...]
            if !path.isEmpty {
                guard let number = Int(path), (0...65_535).contains(number) else {
                    throw RedisURLError.badDatabase(String(path))
                }
                database = number
            }
            rest = rest[..<slash]
        }
        self.database = database
        var host = rest
        var port = 6379
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") {
                guard let number = Int(after.dropFirst()) else { throw RedisURLError.badPort }
                port = number
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            guard let number = Int(rest[rest.index(after: colon)...]) else {
                throw RedisURLError.badPort
            }
            port = number
        }
        guard !host.isEmpty else { throw RedisURLError.noHost }
        guard (1...65_535).contains(port) else { throw RedisURLError.badPort }
        self.host = String(host)
        self.port = port
    }

    /// The URL without its password, for logs.
    public var description: String {
        let credentials = self.password == nil ? "" : "\(self.username ?? ""):***@"
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return "redis://\(credentials)\(host):\(self.port)/\(self.database)"
    }
}

/// Why text is not a Redis URL.
public struct RedisURLError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Base: Hashable, Sendable {
        case wrongScheme
        case badDatabase(String)
        case badPort
        case noHost
    }

    private let base: Base

    private init(_ base: Base) {
        self.base = base
    }

    /// Not `redis://` (TLS is not supported).
    public static let wrongScheme = Self(.wrongScheme)
    /// The database after `/` is not a number from 0 to 65535.
    public static func badDatabase(_ text: String) -> Self { Self(.badDatabase(text)) }
    /// The port is not a number from 1 to 65535.
    public static let badPort = Self(.badPort)
    /// No host before the port.
    public static let noHost = Self(.noHost)

    public var description: String {
        switch self.base {
        case .wrongScheme: return "a Redis URL starts with redis:// (TLS is not supported)"
        case .badDatabase(let text): return "the database after / must be a number, not \(text)"
        case .badPort: return "the port must be a number from 1 to 65535"
        case .noHost: return "no host"
        }
    }
}
