public import NIOCore

extension SocketAddress {
    /// The address as users write it (`127.0.0.1:5353`, `[::1]:5353`), not NIO's `[IPv4]127.0.0.1/127.0.0.1:5353`.
    public var hostAndPort: String {
        let host = self.ipAddress ?? "\(self)"
        let port = self.port.map { ":\($0)" } ?? ""
        return self.protocol == .inet6 ? "[\(host)]\(port)" : host + port
    }
}
