public import NIOCore

/// A SOCKS5 server to dial through (RFC 1928), with optional username/password authentication (RFC 1929).
public struct SOCKS5Server: Sendable, Hashable, CustomStringConvertible {
    public var address: SocketAddress
    public var username: String?
    public var password: String?

    public init(address: SocketAddress, username: String? = nil, password: String? = nil) {
        self.address = address
        self.username = username
        self.password = password
    }

    public var description: String { "socks5://\(self.username.map { "\($0):***@" } ?? "")\(self.address)" }
}
