import DNSCore
import FakeIP
import Logging
public import NIOCore
import NIOConcurrencyHelpers
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Why the proxy could not start, or could not carry a connection or flow.
public struct TransparentProxyError: Error, CustomStringConvertible, Hashable {
    private enum Base: Hashable {
        case cannotBind(address: String, reason: String, needsCapability: Bool)
        case refused(String)
        case noAddress
        case unreachable
        case flowEnded
        case replySocket(errno: Int32)
        case channelOptions
    }

    private let base: Base

    private init(_ base: Base) {
        self.base = base
    }

    /// A listener could not be bound to `address` (`needsCapability`: the kernel wants CAP_NET_ADMIN).
    public static func cannotBind(_ address: String, reason: String, needsCapability: Bool = false) -> Self {
        Self(.cannotBind(address: address, reason: reason, needsCapability: needsCapability))
    }
    /// The rules refuse the destination (`reject`, or SOCKS5 without a server), for `reason`.
    public static func refused(_ reason: String) -> Self { Self(.refused(reason)) }
    /// The domain resolved to no usable address.
    public static let noAddress = Self(.noAddress)
    /// None of the domain's addresses could be reached.
    public static let unreachable = Self(.unreachable)
    /// The UDP flow ended while its sockets were being opened.
    public static let flowEnded = Self(.flowEnded)
    /// The reply socket of a UDP flow could not be opened.
    public static func replySocket(errno: Int32) -> Self { Self(.replySocket(errno: errno)) }
    /// A relayed channel offers no synchronous options (a bug, not a network condition).
    public static let channelOptions = Self(.channelOptions)

    public var description: String {
        switch self.base {
        case .cannotBind(let address, let reason, let needsCapability):
            return "cannot bind the transparent proxy to \(address): "
                + (needsCapability ? "binding transparent sockets needs CAP_NET_ADMIN" : reason)
        case .refused(let reason): return reason
        case .noAddress: return "no address"
        case .unreachable: return "no address could be reached"
        case .flowEnded: return "the flow ended while it was opened"
        case .replySocket(let errno): return "cannot open a reply socket: errno \(errno)"
        case .channelOptions: return "the channel offers no synchronous options"
        }
    }
}

/// The TCP side of the transparent proxy. Linux TPROXY delivers connections for fake addresses to a listener with
/// `IP_TRANSPARENT`; the accepted socket's local address is the fake address the client dialled. The proxy looks
/// the domain up in the fake-IP pools, resolves its real addresses through the pipeline, connects to them in turn
/// and relays both ways. A connection to an unknown fake address, a rejected domain or a destination that cannot be
/// reached is reset at once (SO_LINGER 0): the kernel has already completed the client's handshake, so a plain
/// close would look like an empty reply.
final class TransparentTCPProxy: Sendable {
    private let settings: TransparentProxySettings
    private let rules: ProxyRuleSet
    private let pools: [FakeIPPool]
    private let dialers: DialerTable
    private let group: any EventLoopGroup
    private let logger: Logger
    private let journal: ConnectionJournal
    private let listeners = NIOLockedValueBox<[any Channel]>([])

    init(settings: TransparentProxySettings, rules: ProxyRuleSet, pools: [FakeIPPool], dialers: DialerTable,
         group: any EventLoopGroup, logger: Logger, journal: ConnectionJournal) {
        self.settings = settings
        self.rules = rules
        self.pools = pools
        self.dialers = dialers
        self.group = group
        self.logger = logger
        self.journal = journal
    }

    /// Binds every listen address with IP_TRANSPARENT.
    func start() async throws {
        for address in self.settings.listen {
            let transparent = address.protocol == .inet6
                ? ChannelOptions.Types.SocketOption(level: SocketOptionLevel(IPPROTO_IPV6), name: 75)  // IPV6_TRANSPARENT
                : ChannelOptions.Types.SocketOption(level: SocketOptionLevel(IPPROTO_IP), name: 19)  // IP_TRANSPARENT
            let bootstrap = ServerBootstrap(group: self.group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelOption(transparent, value: 1)
                .serverChannelOption(.backlog, value: 1024)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try Self.prepareRelaySide(channel) { self.accept(channel) }
                    }
                }
            do {
                let listener = try await bootstrap.bind(to: address).get()
                self.listeners.withLockedValue { $0.append(listener) }
                self.logger.info("transparent proxy listening", metadata: ["address": "\(address)", "protocol": "tcp"])
            } catch let error as IOError where error.errnoCode == EPERM {
                throw TransparentProxyError.cannotBind("\(address)", reason: "\(error)", needsCapability: true)
            } catch {
                throw TransparentProxyError.cannotBind("\(address)", reason: "\(error)")
            }
        }
    }

    /// Stops accepting; relayed connections end on their own.
    func shutdown() async {
        for listener in self.listeners.withLockedValue({ $0 }) { try? await listener.close() }
    }

    private func accept(_ channel: any Channel) {
        let started = NIODeadline.now()
        guard let local = channel.localAddress, let port = local.port, let fakeText = local.ipAddress,
            let fake = IPAddress(fakeText),
            let pool = self.pools.first(where: { $0.range.prefix.contains(fake) }),
            let name = pool.pin(fake, now: WallClock.seconds())
        else {
            self.journal.refused(client: channel.remoteAddress, destination: channel.localAddress, reason: "unknown address")
            return Self.reset(channel)
        }
        let action = self.rules.action(for: name)
        var entry = ConnectionJournal.Entry(client: channel.remoteAddress, domain: name, fake: fake, port: port,
                                            transport: "tcp", dialer: "\(action)", started: started)
        self.dialers.dialer(for: action).connect(to: name, port: port, on: channel.eventLoop).assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let upstream):
                    entry.real = upstream.remoteAddress
                    self.relay(channel, upstream, entry: entry, release: { pool.unpin(fake) })
                case .failure(let error):
                    pool.unpin(fake)
                    self.journal.failed(entry, reason: "\(error)")
                    Self.reset(channel)
                }
            }
    }

    private func relay(_ client: any Channel, _ upstream: any Channel, entry: ConnectionJournal.Entry,
                       release: @escaping @Sendable () -> Void) {
        // One timer for the pair, touched by reads on either side. (NIO's IdleStateHandler starts twice on the dialled
        // side, when added and again on the channelActive NIO fires after the connect promise, and leaves one task
        // per connection scheduled for the whole idle timeout.)
        let idleTimer = IdleConnectionTimer(timeout: self.settings.idleTimeout)
        let (clientGlue, upstreamGlue) = GlueHandler.matchedPair(idleTimer: idleTimer)
        do {
            try client.pipeline.syncOperations.addHandler(clientGlue)
            try upstream.pipeline.syncOperations.addHandler(upstreamGlue)
        } catch {
            release()
            Self.reset(client)
            upstream.close(promise: nil)
            return
        }
        self.journal.opened(entry)
        idleTimer.start(on: client.eventLoop, isIdle: { true }, close: {
            client.close(promise: nil)
            upstream.close(promise: nil)
        })
        // What arrived before the relay existed (NIO reads up to an early end of input even with reads paused).
        for channel in [client, upstream] {
            if let buffer = try? channel.pipeline.syncOperations.handler(type: EarlyInputBuffer.self) {
                buffer.release(context: try? channel.pipeline.syncOperations.context(handlerType: EarlyInputBuffer.self))
            }
        }
        let closed = client.closeFuture.and(upstream.closeFuture)
        closed.assumeIsolated().whenComplete { _ in
            idleTimer.stop()
            release()
            self.journal.closed(entry, sent: clientGlue.bytesRead, received: upstreamGlue.bytesRead)
        }
        client.setOption(.autoRead, value: true).whenFailure { _ in client.close(promise: nil) }
        upstream.setOption(.autoRead, value: true).whenFailure { _ in upstream.close(promise: nil) }
    }

    /// Reads of up to 1 MiB when the stream is busy: a bulk transfer costs a read and a write per megabyte, not per
    /// 64 KiB (iperf3 through the proxy, `/tmp`-style bench in the closing note of issue 5).
    static let receiveBuffers = AdaptiveRecvByteBufferAllocator(minimum: 2048, initial: 16_384, maximum: 1 << 20)

    /// Sets up either side of a relayed connection before it is active: reads paused until the relay takes over
    /// (what arrives early is kept by an ``EarlyInputBuffer``, which calls `onActive`), half-close allowed, no
    /// Nagle delay, and the large adaptive reads.
    static func prepareRelaySide(_ channel: any Channel, onActive: @escaping () -> Void) throws {
        guard let options = channel.syncOptions else {
            throw TransparentProxyError.channelOptions
        }
        try options.setOption(.autoRead, value: false)
        try options.setOption(.allowRemoteHalfClosure, value: true)
        try options.setOption(.tcpOption(.tcp_nodelay), value: 1)
        try options.setOption(.recvAllocator, value: Self.receiveBuffers)
        try channel.pipeline.syncOperations.addHandler(EarlyInputBuffer(onActive))
    }

    /// Closes with an RST instead of a FIN.
    static func reset(_ channel: any Channel) {
        guard let provider = channel as? any SocketOptionProvider else { return channel.close(promise: nil) }
        provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
    }
}

/// Starts the proxy's work on a connection once it is active, and holds what the connection reads (data, and an
/// end of input) until the relay is in place: with reads paused NIO still reads everything up to an end of input
/// when the peer half-closes early, and without this those bytes would fall off the end of the pipeline.
final class EarlyInputBuffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    private let start: () -> Void
    private var held: [NIOAny] = []
    private var inputClosed = false

    init(_ start: @escaping () -> Void) {
        self.start = start
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        self.start()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.held.append(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {}

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            self.inputClosed = true
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// Passes on what it held to the handlers after it, and leaves the pipeline.
    func release(context: ChannelHandlerContext?) {
        guard let context else { return }
        let held = self.held
        self.held = []
        for data in held { context.fireChannelRead(data) }
        if !held.isEmpty { context.fireChannelReadComplete() }
        if self.inputClosed { context.fireUserInboundEventTriggered(ChannelEvent.inputClosed) }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
