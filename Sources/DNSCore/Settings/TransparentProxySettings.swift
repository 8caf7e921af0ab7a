public import NIOCore

/// How the transparent proxy runs.
public struct TransparentProxySettings: Sendable {
    /// Where the TPROXY rules deliver connections (`fakeip.proxy.listen`).
    public var listen: [SocketAddress]
    /// Per address tried.
    public var connectTimeout: TimeAmount
    /// A connection with no traffic either way for this long is closed.
    public var idleTimeout: TimeAmount
    /// A UDP flow with no datagram either way for this long ends.
    public var udpIdleTimeout: TimeAmount
    /// Whether each connection's open and close are logged with its domain (`fakeip.proxy.journal`).
    public var journal: Bool
    public var rules: [ProxyRule]
    /// The server for rules with the `socks5` action.
    public var socks5: SOCKS5Server?

    public init(listen: [SocketAddress], connectTimeout: TimeAmount = .seconds(3), idleTimeout: TimeAmount = .minutes(5),
                udpIdleTimeout: TimeAmount = .seconds(60), journal: Bool = false, rules: [ProxyRule] = [],
                socks5: SOCKS5Server? = nil) {
        self.listen = listen
        self.connectTimeout = connectTimeout
        self.idleTimeout = idleTimeout
        self.udpIdleTimeout = udpIdleTimeout
        self.journal = journal
        self.rules = rules
        self.socks5 = socks5
    }
}
