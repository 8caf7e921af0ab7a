import NIOCore

/// The plain DNS listeners and their TCP limits.
extension ConfigLoader {
    static let listenerKeys = ["listen", "tcp.idle_timeout", "tcp.max_connections", "tcp.max_queries_per_connection"]

    static func listenAddresses(_ values: ConfigValues) throws -> [SocketAddress] {
        try values.list("listen", default: DNSGateConfig.defaultListen).map { text in
            guard let address = ConfigValueParsing.socketAddress(text) else {
                throw ConfigError(key: "listen", value: text,
                                  allowed: "an IP address with port, e.g. 127.0.0.1:53 or [::1]:53")
            }
            return address
        }
    }
}
