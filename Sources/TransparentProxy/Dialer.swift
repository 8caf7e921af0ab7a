import DNSCore
import NIOCore

/// How the proxy reaches a domain once a rule has chosen the way out: the one extension point for new ways out
/// (each rule action names a dialer, see ``DialerTable``). A dialer opens the proxy's side of a TCP connection and
/// says where a UDP flow's datagrams go; it is called on the event loop it is given.
protocol Dialer: Sendable {
    /// A connection to `port` of `domain`, not yet reading: what arrives before the relay takes over is held by an
    /// ``EarlyInputBuffer``.
    func connect(to domain: String, port: Int, on loop: any EventLoop) -> EventLoopFuture<any Channel>

    /// Where a UDP flow to `port` of `domain` sends its datagrams; the family of `fake`, the address the client
    /// wrote to, is preferred.
    func datagramPath(to domain: String, port: Int, preferring fake: IPAddress, on loop: any EventLoop)
        -> EventLoopFuture<DatagramPath>
}

/// Where a UDP flow's datagrams go, and how they are wrapped on the way.
struct DatagramPath: Sendable {
    /// Where datagrams are sent; datagrams from anyone else are dropped.
    var peer: SocketAddress
    /// Put before every datagram sent (a SOCKS5 UDP header naming the domain); nil sends them as they are.
    var header: ByteBuffer?
    /// The client's data in a datagram from `peer`; nil drops the datagram.
    var payload: @Sendable (ByteBuffer) -> ByteBuffer? = { $0 }
    /// The connection the path lives on (a SOCKS5 association): the flow ends when it closes, and closes it when
    /// the flow ends.
    var control: (any Channel)?
}

/// Refuses every connection and flow, with a reason for the journal.
struct RefusingDialer: Dialer {
    let reason: String

    func connect(to domain: String, port: Int, on loop: any EventLoop) -> EventLoopFuture<any Channel> {
        loop.makeFailedFuture(TransparentProxyError.refused(self.reason))
    }

    func datagramPath(to domain: String, port: Int, preferring fake: IPAddress, on loop: any EventLoop)
        -> EventLoopFuture<DatagramPath>
    {
        loop.makeFailedFuture(TransparentProxyError.refused(self.reason))
    }
}

/// The dialer behind each rule action.
struct DialerTable: Sendable {
    private let direct: any Dialer
    private let socks5: any Dialer
    private let reject: any Dialer

    init(settings: TransparentProxySettings, resolver: NameResolver) {
        self.direct = DirectDialer(resolver: resolver, connectTimeout: settings.connectTimeout)
        self.socks5 = settings.socks5.map { SOCKS5Dialer(server: $0, connectTimeout: settings.connectTimeout) }
            ?? RefusingDialer(reason: "no SOCKS5 server is configured")
        self.reject = RefusingDialer(reason: "rejected by rule")
    }

    func dialer(for action: ProxyRule.Action) -> any Dialer {
        switch action {
        case .direct: self.direct
        case .socks5: self.socks5
        case .reject: self.reject
        }
    }
}
