import DNSCore
import FakeIP
import NIOCore
import CLinuxNet
import NIOPosix

/// The UDP flows of the transparent proxy, keyed by client and fake destination, confined to one event loop. Each
/// flow has a reply socket bound to the fake address and connected to the client (it sends the real server's
/// answers from the address the client wrote to, and the kernel delivers the flow's later datagrams to it) and
/// an unconnected socket towards the real server, whose datagrams from anyone else are dropped. A flow whose rule
/// says `socks5` sends to the relay of a SOCKS5 UDP ASSOCIATE instead, each datagram headed with the domain name;
/// it ends when the association's TCP connection does.
final class UDPSessions {
    struct Key: Hashable {
        var client: SocketAddress
        var destination: SocketAddress
    }

    final class Session {
        let key: Key
        let fake: IPAddress
        let pool: FakeIPPool
        var entry: ConnectionJournal.Entry
        var waiting: [ByteBuffer] = []
        var real: SocketAddress?
        var upstream: (any Channel)?
        var reply: (any Channel)?
        /// The SOCKS5 association's TCP connection, and the header that names the destination to its relay.
        var control: (any Channel)?
        var relayHeader: ByteBuffer?
        var lastActivity: NIODeadline
        var sent = 0
        var received = 0

        init(key: Key, fake: IPAddress, pool: FakeIPPool, entry: ConnectionJournal.Entry) {
            self.key = key
            self.fake = fake
            self.pool = pool
            self.entry = entry
            self.lastActivity = .now()
        }
    }

    static let maxWaiting = 64

    private let loop: any EventLoop
    private let pools: [FakeIPPool]
    private let resolver: NameResolver
    private let settings: TransparentProxySettings
    private let journal: ConnectionJournal
    private var sessions: [Key: Session] = [:]
    private var sweeping = false

    init(loop: any EventLoop, pools: [FakeIPPool], resolver: NameResolver, settings: TransparentProxySettings,
         journal: ConnectionJournal) {
        self.loop = loop
        self.pools = pools
        self.resolver = resolver
        self.settings = settings
        self.journal = journal
    }

    var count: Int { self.sessions.count }

    /// A datagram the listener received from `client`, sent to `destination`.
    func received(_ payload: ByteBuffer, from client: SocketAddress, to destination: SocketAddress) {
        let key = Key(client: client, destination: destination)
        if let session = self.sessions[key] {
            return self.forward(payload, session)
        }
        guard let port = destination.port, let text = destination.ipAddress, let fake = IPAddress(text),
            let pool = self.pools.first(where: { $0.range.prefix.contains(fake) }),
            let name = pool.pin(fake, now: WallClock.seconds())
        else {
            return self.journal.refused(client: client, destination: destination, reason: "unknown address")
        }
        var entry = ConnectionJournal.Entry(client: client, domain: name, fake: fake, port: port, transport: "udp",
                                            dialer: "direct", started: .now())
        let action = ProxyRule.action(for: name, in: self.settings.rules)
        entry.dialer = "\(action)"
        let session = Session(key: key, fake: fake, pool: pool, entry: entry)
        let target: EventLoopFuture<SocketAddress>
        switch (action, self.settings.socks5) {
        case (.direct, _):
            target = self.resolver.addresses(of: name, on: self.loop).flatMapThrowing { addresses in
                try Self.preferred(addresses, port: port, family: fake)
            }
        case (.socks5, .some(let server)):
            target = self.associate(session, through: server, domain: name, port: port)
        case (.reject, _), (.socks5, .none):
            pool.unpin(fake)
            return self.journal.failed(entry, reason: "rejected by rule")
        }
        session.waiting.append(payload)
        self.sessions[key] = session
        self.startSweeping()
        target.assumeIsolated().flatMap { real in
            self.open(session, towards: real)
        }.whenComplete { result in
            switch result {
            case .success:
                self.journal.opened(session.entry)
                let waiting = session.waiting
                session.waiting = []
                for datagram in waiting { self.forward(datagram, session) }
            case .failure(let error):
                self.end(session, failure: "\(error)")
            }
        }
    }

    /// The real server: the first address of the fake address's family, else the first.
    private static func preferred(_ addresses: [IPAddress], port: Int, family fake: IPAddress) throws -> SocketAddress {
        let preferred = addresses.first { $0.isIPv4 == fake.isIPv4 } ?? addresses.first
        guard let address = preferred, let real = try? SocketAddress(ipAddress: "\(address)", port: port) else {
            throw TransparentProxyError(description: "no address")
        }
        return real
    }

    /// Asks `server` for a UDP relay; the flow then lives as long as that association's TCP connection.
    private func associate(_ session: Session, through server: SOCKS5Server, domain: String, port: Int)
        -> EventLoopFuture<SocketAddress>
    {
        SOCKS5Dialer(server: server, connectTimeout: self.settings.connectTimeout)
            .open(.udpAssociate, on: self.loop).assumeIsolated().flatMapThrowing { control, bound in
                guard self.sessions[session.key] === session else {
                    control.close(promise: nil)
                    throw TransparentProxyError(description: "the flow ended before the SOCKS5 relay was ready")
                }
                session.control = control
                session.relayHeader = SOCKS5UDPHeader.header(domain: domain, port: port)
                control.closeFuture.assumeIsolated().whenComplete { _ in self.end(session) }
                guard let bound, let relayPort = bound.port else {
                    throw SOCKS5Error(description: "the SOCKS5 server named no relay address")
                }
                // A relay on "any address" is on the server's own address (RFC 1928 leaves this to the client).
                guard bound.ipAddress == "0.0.0.0" || bound.ipAddress == "::" else { return bound }
                var relay = server.address
                relay.port = relayPort
                return relay
            }.nonisolated()
    }

    /// Opens the flow's two sockets: the reply socket as the fake address, and one towards `real`.
    private func open(_ session: Session, towards real: SocketAddress) -> EventLoopFuture<Void> {
        session.real = real
        session.entry.real = real
        let descriptor = session.key.destination.withSockAddr { local, localLength in
            session.key.client.withSockAddr { peer, peerLength in
                clinuxnet_udp_transparent_reply(local, socklen_t(localLength), peer, socklen_t(peerLength))
            }
        }
        guard descriptor >= 0 else {
            return self.loop.makeFailedFuture(TransparentProxyError(
                description: "cannot open a reply socket: errno \(-descriptor)"))
        }
        // Both sockets start with reads paused, so nothing arrives before the relay handlers are in place.
        let reply = DatagramBootstrap(group: self.loop).channelOption(.autoRead, value: false)
            .withBoundSocket(descriptor)
        let upstream = DatagramBootstrap(group: self.loop).channelOption(.autoRead, value: false)
            .bind(host: real.protocol == .inet6 ? "::" : "0.0.0.0", port: 0)
        return reply.and(upstream).assumeIsolated().flatMapThrowing { reply, upstream in
            try reply.pipeline.syncOperations.addHandler(DatagramRelay { self.forward($0.data, session) })
            try upstream.pipeline.syncOperations.addHandler(DatagramRelay { self.answer($0, session) })
            session.reply = reply
            session.upstream = upstream
            reply.setOption(.autoRead, value: true).whenFailure { _ in reply.close(promise: nil) }
            upstream.setOption(.autoRead, value: true).whenFailure { _ in upstream.close(promise: nil) }
        }.nonisolated()
    }

    /// Client to real server.
    private func forward(_ payload: ByteBuffer, _ session: Session) {
        session.lastActivity = .now()
        guard let upstream = session.upstream, let real = session.real else {
            if session.waiting.count < Self.maxWaiting { session.waiting.append(payload) }
            return
        }
        session.sent += payload.readableBytes
        var datagram = payload
        if var header = session.relayHeader {
            header.writeImmutableBuffer(payload)
            datagram = header
        }
        upstream.writeAndFlush(AddressedEnvelope(remoteAddress: real, data: datagram), promise: nil)
    }

    /// Real server (or SOCKS5 relay) to client, from the fake address.
    private func answer(_ envelope: AddressedEnvelope<ByteBuffer>, _ session: Session) {
        guard envelope.remoteAddress == session.real, let reply = session.reply else { return }
        let data = session.relayHeader == nil ? envelope.data : SOCKS5UDPHeader.payload(of: envelope.data)
        guard let data else { return }
        session.lastActivity = .now()
        session.received += data.readableBytes
        reply.writeAndFlush(AddressedEnvelope(remoteAddress: session.key.client, data: data), promise: nil)
    }

    private func end(_ session: Session, failure: String? = nil) {
        guard self.sessions[session.key] === session else { return }
        self.sessions[session.key] = nil
        session.upstream?.close(promise: nil)
        session.reply?.close(promise: nil)
        session.control?.close(promise: nil)
        session.pool.unpin(session.fake)
        if let failure {
            self.journal.failed(session.entry, reason: failure)
        } else {
            self.journal.closed(session.entry, sent: session.sent, received: session.received)
        }
    }

    /// Ends idle flows, checking a few times per idle period while there are any.
    private func startSweeping() {
        guard !self.sweeping else { return }
        self.sweeping = true
        let interval = max(TimeAmount.milliseconds(100), .nanoseconds(self.settings.udpIdleTimeout.nanoseconds / 4))
        self.loop.assumeIsolated().scheduleTask(in: interval) {
            self.sweeping = false
            let now = NIODeadline.now()
            for session in self.sessions.values where now - session.lastActivity >= self.settings.udpIdleTimeout {
                self.end(session)
            }
            if !self.sessions.isEmpty { self.startSweeping() }
        }
    }

    func closeAll() {
        for session in Array(self.sessions.values) { self.end(session) }
    }
}

/// Hands every datagram a channel reads to a closure.
final class DatagramRelay: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let onDatagram: (AddressedEnvelope<ByteBuffer>) -> Void

    init(_ onDatagram: @escaping (AddressedEnvelope<ByteBuffer>) -> Void) {
        self.onDatagram = onDatagram
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.onDatagram(self.unwrapInboundIn(data))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP errors (port unreachable) surface here on connected sockets; the flow ends when idle.
    }
}
