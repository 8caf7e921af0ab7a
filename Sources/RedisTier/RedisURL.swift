/// Where Redis is: `redis://[[user]:password@]host[:port][/db]`.
public struct RedisURL: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var database: Int
    public var username: String?
    public var password: String?

    public init(_ text: String) throws {
        guard text.hasPrefix("redis://") else {
            throw RedisError.invalidURL("a Redis URL starts with redis:// (TLS is not supported)")
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
                    throw RedisError.invalidURL("the database after / must be a number, not \(path)")
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
                guard let number = Int(after.dropFirst()) else { throw RedisError.invalidURL("bad port in \(text)") }
                port = number
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            guard let number = Int(rest[rest.index(after: colon)...]) else {
                throw RedisError.invalidURL("bad port in \(text)")
            }
            port = number
        }
        guard !host.isEmpty else { throw RedisError.invalidURL("no host in \(text)") }
        guard (1...65_535).contains(port) else { throw RedisError.invalidURL("port \(port) out of range") }
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
