public import NIOCore

/// Parsers for the value syntaxes used in configuration: durations, listen addresses, bounded integers.
public enum ConfigValueParsing {
    /// `250ms`, `5s`, `2m`, or a bare number of seconds.
    public static func duration(_ text: String) -> TimeAmount? {
        let units: [(String, Int64)] = [("ms", 1_000_000), ("s", 1_000_000_000), ("m", 60_000_000_000)]
        for (suffix, nanoseconds) in units where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count)
            // "ms" also ends in "s": only take "s" when what is left is a number.
            if let value = Int64(number), value >= 0 { return .nanoseconds(value * nanoseconds) }
        }
        if let seconds = Int64(text), seconds >= 0 { return .seconds(seconds) }
        return nil
    }

    /// `127.0.0.1:5353`, `[::1]:5353`, or an address without a port (53).
    public static func socketAddress(_ text: String, defaultPort: Int = 53) -> SocketAddress? {
        var host = Substring(text)
        var port = defaultPort
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let rest = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let value = Int(rest.dropFirst()) else { return nil }
                port = value
            }
        } else if host.filter({ $0 == ":" }).count == 1, let colon = host.firstIndex(of: ":") {
            guard let value = Int(host[host.index(after: colon)...]) else { return nil }
            port = value
            host = host[..<colon]
        }
        guard (0...65535).contains(port) else { return nil }
        return try? SocketAddress(ipAddress: String(host), port: port)
    }
}
