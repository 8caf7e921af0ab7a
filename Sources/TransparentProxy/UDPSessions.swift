import DNSCore
import FakeIP
import NIOCore
import CLinuxNet
import NIOPosix

/// The UDP flows of the transparent proxy, keyed by client and fake destination, confined to one event loop. Each
/// flow has a reply socket bound to the fake address and connected to the client (it sends the real server's
/// answers from the address the client wrote to, and the kernel delivers the flow's later datagrams to it) and
/// an unconnected socket towards the peer of the flow's ``DatagramPath`` (the real server, or a SOCKS5 relay that
/// takes datagrams headed with the domain name), whose datagrams from anyone else are dropped. A path that lives on
/// a connection (a SOCKS5 association) ends the flow when that connection closes.
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
        var path: DatagramPath?
        var upstream: (any Channel)?
        var reply: (any Channel)?
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
    private let dialers: DialerTable
    private let settings: TransparentProxySettings
    private let rules: ProxyRuleSet
    private let journal: ConnectionJournal
    private var sessions: [Key: Session] = [:]
    private var sweeping = false

    init(loop: any EventLoop, pools: [FakeIPPool], dialers: DialerTable, settings: TransparentProxySettings,
         rules: ProxyRuleSet, journal: ConnectionJournal) {
        self.rules = rules
        self.loop = loop
        self.pools = pools
        self.dialers = dialers
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
        let action = self.rules.action(for: name)
        let entry = ConnectionJournal.Entry(client: client, domain: name, fake: fake, port: port, transport: "udp",
                                            dialer: "\(action)", started: .now())
        let session = Session(key: key, fake: fake, pool: pool, entry: entry)
        session.waiting.append(payload)
        self.sessions[key] = session
        self.startSweeping()
        self.dialers.dialer(for: action).datagramPath(to: name, port: port, preferring: fake, on: self.loop)
            .assumeIsolated().flatMap { path in
                self.open(session, along: path)
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

    /// Opens the flow's two sockets: the reply socket as the fake address, and one towards the path's peer.
    private func open(_ session: Session, along path: DatagramPath) -> EventLoopFuture<Void> {
        guard self.sessions[session.key] === session else {
            path.control?.close(promise: nil)
            return self.loop.makeFailedFuture(TransparentProxyError.flowEnded)
        }
        session.path = path
        session.entry.real = path.peer
        path.control?.closeFuture.assumeIsolated().whenComplete { _ in self.end(session) }
        let descriptor = session.key.destination.withSockAddr { local, localLength in
            session.key.client.withSockAddr { peer, peerLength in
                clinuxnet_udp_transparent_reply(local, socklen_t(localLength), peer, socklen_t(peerLength))
            }
        }
        guard descriptor >= 0 else {
            return self.loop.makeFailedFuture(TransparentProxyError.replySocket(errno: -descriptor))
        }
        // Both sockets start with reads paused, so nothing arrives before the relay handlers are in place, and
        // read every datagram whole.
        let reply = self.datagramBootstrap().withBoundSocket(descriptor)
        let upstream = self.datagramBootstrap().bind(host: path.peer.protocol == .inet6 ? "::" : "0.0.0.0", port: 0)
        return reply.and(upstream).assumeIsolated().flatMapThrowing { reply, upstream in
            try reply.pipeline.syncOperations.addHandler(DatagramRelay { self.forward($0.data, session) })
            try upstream.pipeline.syncOperations.addHandler(DatagramRelay { self.answer($0, session) })
            session.reply = reply
            session.upstream = upstream
            reply.setOption(.autoRead, value: true).whenFailure { _ in reply.close(promise: nil) }
            upstream.setOption(.autoRead, value: true).whenFailure { _ in upstream.close(promise: nil) }
        }.nonisolated()
    }

    private func datagramBootstrap() -> DatagramBootstrap {
        DatagramBootstrap(group: self.loop)
            .channelOption(.autoRead, value: false)
            .channelOption(.recvAllocator, value: DatagramSize.wholeDatagrams)
    }

    /// Client to real server.
    private func forward(_ payload: ByteBuffer, _ session: Session) {
        session.lastActivity = .now()
        guard let upstream = session.upstream, let path = session.path else {
            guard session.waiting.count < Self.maxWaiting else { return self.journal.droppedDatagram() }
            session.waiting.append(payload)
            return
        }
        var datagram = payload
        if var header = path.header {
            // A datagram that its header makes too long for UDP is dropped whole, never cut.
            guard header.readableBytes + payload.readableBytes <= DatagramSize.maxPayload(to: path.peer) else {
                return self.journal.droppedDatagram()
            }
            header.writeImmutableBuffer(payload)
            datagram = header
        }
        session.sent += payload.readableBytes
        self.send(datagram, to: path.peer, on: upstream)
    }

    /// The path's peer to client, from the fake address.
    private func answer(_ envelope: AddressedEnvelope<ByteBuffer>, _ session: Session) {
        guard let path = session.path, envelope.remoteAddress == path.peer, let reply = session.reply,
            let data = path.payload(envelope.data)
        else { return }
        session.lastActivity = .now()
        session.received += data.readableBytes
        self.send(data, to: session.key.client, on: reply)
    }

    /// Sends one datagram; one the kernel refuses (too large for the path, a full buffer) is counted as dropped.
    private func send(_ datagram: ByteBuffer, to peer: SocketAddress, on channel: any Channel) {
        let written = self.loop.makePromise(of: Void.self)
        written.futureResult.whenFailure { [journal] _ in journal.droppedDatagram() }
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: peer, data: datagram), promise: written)
    }

    private func end(_ session: Session, failure: String? = nil) {
        guard self.sessions[session.key] === session else { return }
        self.sessions[session.key] = nil
        session.upstream?.close(promise: nil)
        session.reply?.close(promise: nil)
        session.path?.control?.close(promise: nil)
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
