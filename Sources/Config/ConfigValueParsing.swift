public import NIOCore

/// Parsers for the value syntaxes used in configuration: durations, listen addresses, bounded integers.
public enum ConfigValueParsing {
    /// `250ms`, `5s`, `2m`, `1h`, `3d`, or a bare number of seconds.
    public static func duration(_ text: String) -> TimeAmount? {
        let units: [(String, Int64)] = [
            ("ms", 1_000_000), ("s", 1_000_000_000), ("m", 60_000_000_000), ("h", 3_600_000_000_000),
            ("d", 86_400_000_000_000),
        ]
        for (suffix, nanoseconds) in units where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count)
            // "ms" also ends in "s": only take "s" when what is left is a number.
            if let value = Int64(number), value >= 0 { return .nanoseconds(value * nanoseconds) }
        }
        if let seconds = Int64(text), seconds >= 0 { return .seconds(seconds) }
        return nil
    }

    /// A byte size: `65536`, `512KiB`, `64MiB`, `1GiB`.
    public static func byteSize(_ text: String) -> Int? {
        let units: [(String, Int)] = [("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            guard let value = Int(text.dropLast(suffix.count)), value >= 0 else { return nil }
            return value.multipliedReportingOverflow(by: factor).overflow ? nil : value * factor
        }
        return Int(text).flatMap { $0 >= 0 ? $0 : nil }
    }

    /// `true`/`false`, `yes`/`no`, `on`/`off`, `1`/`0`.
    public static func bool(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default: return nil
        }
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
