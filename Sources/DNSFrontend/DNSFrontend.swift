import DNSQUIC
public import DNSCore
public import Logging
public import NIOCore
import NIOConcurrencyHelpers
import NIOPosix
import NIOSSL

#if canImport(Glibc)
import Glibc
#endif

/// Limits and timeouts of the listeners.
public struct FrontendConfiguration: Sendable {
    /// Addresses to listen on: plain ones for UDP and TCP, `tls` ones for DoT, `https` ones for DoH.
    public var listen: [ListenerAddress]
    /// The certificate of the DoT, DoH and DoQ listeners (required when there are any).
    public var tls: ServerTLSContext?
    /// How long a client waits at most before dnsgate answers (SERVFAIL if nothing better).
    public var queryTimeout: TimeAmount
    /// A TCP connection with nothing to do for this long is closed (RFC 7766 §6.2.3).
    public var tcpIdleTimeout: TimeAmount
    /// TCP connections (plain, DoT and DoH) open at once, across all listeners' sockets.
    public var maxTCPConnections: Int
    /// TCP connections open at once from one client address.
    public var maxTCPConnectionsPerClient: Int
    /// Queries in flight on one TCP connection before dnsgate stops reading from it.
    public var maxTCPQueriesPerConnection: Int

    public init(
        listen: [ListenerAddress],
        tls: ServerTLSContext? = nil,
        queryTimeout: TimeAmount = .seconds(5),
        tcpIdleTimeout: TimeAmount = .seconds(10),
        maxTCPConnections: Int = 1000,
        maxTCPConnectionsPerClient: Int = 64,
        maxTCPQueriesPerConnection: Int = 100
    ) {
        self.listen = listen
        self.tls = tls
        self.queryTimeout = queryTimeout
        self.tcpIdleTimeout = tcpIdleTimeout
        self.maxTCPConnections = maxTCPConnections
        self.maxTCPConnectionsPerClient = maxTCPConnectionsPerClient
        self.maxTCPQueriesPerConnection = maxTCPQueriesPerConnection
    }
}

/// A listener that could not be opened.
public struct FrontendError: Error, CustomStringConvertible, Hashable {
    private enum Base: Hashable {
        case cannotListen(transport: String, address: String, reason: String, addressInUse: Bool)
        case needsCertificate(listener: String)
        case receiveBuffers
    }

    private let base: Base

    private init(_ base: Base) {
        self.base = base
    }

    /// `transport` (udp, tcp) could not be bound to `address`.
    public static func cannotListen(_ transport: String, _ address: String, reason: String,
                                    addressInUse: Bool = false) -> Self {
        Self(.cannotListen(transport: transport, address: address, reason: reason, addressInUse: addressInUse))
    }
    /// A DoT or DoH listener without `tls.cert_file` and `tls.key_file`.
    public static func needsCertificate(_ listener: String) -> Self { Self(.needsCertificate(listener: listener)) }
    /// The UDP receive buffers could not be allocated.
    public static let receiveBuffers = Self(.receiveBuffers)

    /// Whether another socket holds the address.
    public var isAddressInUse: Bool {
        if case .cannotListen(_, _, _, true) = self.base { return true }
        return false
    }

    public var description: String {
        switch self.base {
        case .cannotListen(let transport, let address, let reason, _):
            return "cannot listen on \(transport) \(address): \(reason)"
        case .needsCertificate(let listener):
            return "\(listener) needs a certificate and key (tls.cert_file, tls.key_file)"
        case .receiveBuffers:
            return "cannot allocate UDP receive buffers"
        }
    }
}

/// The listeners: for every plain address a UDP socket per event loop (`SO_REUSEPORT`, so both cores read), each
/// served by a ``UDPQueryListener`` thread, and one TCP listener whose connections are spread over the loops; DoT
/// and DoH listeners are TCP listeners with TLS (and HTTP) in front of the same query handling.
public final class DNSFrontend: Sendable {
    /// Datagrams read per `recvmmsg` call.
    static let vectorReadCount = 32
    /// Receive space per datagram; a query needs far less than this.
    static let maxQuerySize = 4096

    private let configuration: FrontendConfiguration
    private let pipeline: any DNSHandler
    private let group: any EventLoopGroup
    private let logger: Logger
    private let udpInFlight = InFlightCounter()
    private let quicConnections = InFlightCounter()
    private let tcpConnections: ConnectionLimiter
    /// One configured listener's sockets.
    private struct Listener {
        var address: ListenerAddress
        /// Empty for DoT and DoH.
        var udp: [UDPQueryListener]
        var tcp: any Channel
    }

    private let listeners = NIOLockedValueBox<[Listener]>([])

    public init(configuration: FrontendConfiguration, pipeline: any DNSHandler, group: any EventLoopGroup,
                logger: Logger) {
        self.configuration = configuration
        self.pipeline = pipeline
        self.group = group
        self.logger = logger
        self.tcpConnections = ConnectionLimiter(limit: configuration.maxTCPConnections,
                                                perClientLimit: configuration.maxTCPConnectionsPerClient)
    }

    /// The query timeout the listeners stamp deadlines with.
    public var queryTimeout: TimeAmount { self.configuration.queryTimeout }

    /// Opens every listener; throws ``FrontendError`` naming the address that could not be bound.
    public func start() async throws {
        for address in self.configuration.listen { try await self.open(address) }
    }

    /// Listens on `addresses` from now on: opens the ones not open yet and stops the ones no longer listed, letting
    /// their queries in flight finish. Addresses in both lists are not touched. When one cannot be bound it throws,
    /// with the listeners as they were: those this call opened are closed again at once.
    public func listen(on addresses: [ListenerAddress]) async throws {
        let open = self.listeners.withLockedValue { $0.map(\.address) }
        var opened: [ListenerAddress] = []
        do {
            for address in addresses where !open.contains(address) {
                try await self.open(address)
                opened.append(address)
            }
        } catch {
            let rolledBack = self.listeners.withLockedValue { listeners in
                let rolledBack = listeners.filter { opened.contains($0.address) }
                listeners.removeAll { opened.contains($0.address) }
                return rolledBack
            }
            for listener in rolledBack { await self.stop(listener, lingering: .zero) }
            throw error
        }
        let removed = self.listeners.withLockedValue { listeners in
            let removed = listeners.filter { !addresses.contains($0.address) }
            listeners.removeAll { !addresses.contains($0.address) }
            return removed
        }
        for listener in removed { await self.stop(listener) }
    }

    /// Opens UDP and TCP on a plain address, TCP with TLS (and HTTP) on an encrypted one.
    private func open(_ listener: ListenerAddress) async throws {
        guard listener.kind == .plain else {
            guard let tls = self.configuration.tls else {
                throw FrontendError.needsCertificate("\(listener)")
            }
            let channel = listener.kind == .quic
                ? try await self.bindQUIC(listener.address, id: listener.id, tls: tls)
                : try await self.bindTCP(listener.address, kind: listener.kind, id: listener.id, tls: tls)
            self.listeners.withLockedValue { $0.append(Listener(address: listener, udp: [], tcp: channel)) }
            self.logger.info("listening", metadata: ["address": "\(listener)"])
            return
        }
        let (udp, port) = try self.bindUDP(listener.address, id: listener.id)
        var tcpAddress = listener.address
        tcpAddress.port = port
        do {
            let tcp = try await self.bindTCP(tcpAddress, kind: .plain, id: listener.id, tls: nil)
            self.listeners.withLockedValue { $0.append(Listener(address: listener, udp: udp, tcp: tcp)) }
        } catch {
            for listener in udp {
                await listener.stopReceiving()
                listener.socket.close()
            }
            throw error
        }
        self.logger.info("listening", metadata: ["address": "\(tcpAddress.hostAndPort)", "transports": "udp,tcp"])
    }

    /// Stops one address: no new queries or connections; its UDP sockets close once the queries they took have
    /// had their time, or after `lingering` (connections already open keep being served until they close).
    private func stop(_ listener: Listener, lingering: TimeAmount? = nil) async {
        if listener.address.kind == .quic {
            // One socket carries every connection: drain them, and close the socket after the linger.
            listener.tcp.pipeline.fireUserInboundEventTriggered(DoQServerHandler.Drain())
        } else {
            try? await listener.tcp.close()
        }
        for udp in listener.udp { await udp.stopReceiving() }
        self.logger.info("stopped listening", metadata: ["address": "\(listener.address)"])
        let linger = lingering ?? self.configuration.queryTimeout + .seconds(1)
        guard linger > .zero else {
            for udp in listener.udp { udp.socket.close() }
            try? await listener.tcp.close()
            return
        }
        Task {
            try? await Task.sleep(for: .nanoseconds(linger.nanoseconds))
            for udp in listener.udp { udp.socket.close() }
            try? await listener.tcp.close()
        }
    }

    /// Opens a UDP socket per event loop, each read by its own thread; returns them and the port (the one the
    /// kernel chose when `address` has port 0).
    private func bindUDP(_ address: SocketAddress, id: Int) throws(FrontendError) -> ([UDPQueryListener], Int) {
        var address = address
        let responder = UDPQueryResponder(pipeline: self.pipeline, queryTimeout: self.configuration.queryTimeout,
                                          listener: id)
        var listeners: [UDPQueryListener] = []
        for loop in self.group.makeIterator() {
            let socket = try UDPListenerSocket(boundTo: address)
            let listener = UDPQueryListener(socket: socket, responder: responder, eventLoop: loop,
                                            inFlight: self.udpInFlight)
            listeners.append(listener)
            do {
                try listener.start()
            } catch {
                for opened in listeners {
                    opened.socket.shutdownReceiving()
                    opened.socket.close()
                }
                throw error
            }
            if let port = socket.localAddress?.port { address.port = port }
        }
        return (listeners, address.port ?? 0)
    }

    /// A TCP listener for plain DNS, DoT (`tls`) or DoH (`https`, with `tls`).
    private func bindTCP(_ address: SocketAddress, kind: ListenerAddress.Kind, id: Int, tls: ServerTLSContext?)
        async throws -> any Channel
    {
        let pipeline = self.pipeline
        let configuration = self.configuration
        let limiter = self.tcpConnections
        do {
            let channel = try await ServerBootstrap(group: self.group)
                .serverChannelOption(.backlog, value: 1024)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(limiter)
                    }
                }
                .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let sync = channel.pipeline.syncOperations
                        if let tls {
                            try sync.addHandler(NIOSSLServerHandler(context: tls.current(https: kind != .tls)))
                        }
                        if case .https(let path) = kind {
                            // Until ALPN has chosen HTTP/2 or HTTP/1.1, no handler of the connection watches it.
                            try DoHServer.configure(channel, path: path, listener: id, pipeline: pipeline,
                                                    configuration: configuration)
                            return
                        }
                        try sync.addHandler(ByteToMessageHandler(DNSLengthPrefixDecoder()))
                        try sync.addHandler(TCPQueryHandler(
                            pipeline: pipeline, transport: kind == .tls ? .tls : .tcp, listener: id,
                            queryTimeout: configuration.queryTimeout,
                            maxInFlight: configuration.maxTCPQueriesPerConnection,
                            idleTimeout: configuration.tcpIdleTimeout))
                    }
                }
                .bind(to: address).get()
            return channel
        } catch {
            throw FrontendError.cannotListen("tcp", address.hostAndPort, reason: "\(error)",
                                             addressInUse: (error as? IOError)?.errnoCode == EADDRINUSE)
        }
    }

    /// A UDP socket for DNS over QUIC, with the certificate `tls` was loaded from (and reloads).
    private func bindQUIC(_ address: SocketAddress, id: Int, tls: ServerTLSContext) async throws -> any Channel {
        let certificate: QUICServerCertificate
        do {
            certificate = try QUICServerCertificate(tls: tls, maxStreams: self.configuration.maxTCPQueriesPerConnection,
                                                    idleTimeout: self.configuration.tcpIdleTimeout * 2)
        } catch {
            throw FrontendError.cannotListen("quic", address.hostAndPort, reason: "\(error)", addressInUse: false)
        }
        let pipeline = self.pipeline
        let configuration = self.configuration
        let quicConnections = self.quicConnections
        do {
            return try await DatagramBootstrap(group: self.group)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .channelOption(.datagramVectorReadMessageCount, value: QUICConnection.vectorReadCount)
                .channelOption(.recvAllocator, value: QUICConnection.receiveAllocator)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(DoQServerHandler(
                            certificate: certificate, pipeline: pipeline, listener: id,
                            queryTimeout: configuration.queryTimeout,
                            maxConnections: configuration.maxTCPConnections,
                            idleTimeout: configuration.tcpIdleTimeout, openCount: quicConnections))
                    }
                }
                .bind(to: address).get()
        } catch {
            throw FrontendError.cannotListen("udp", address.hostAndPort, reason: "\(error)",
                                             addressInUse: (error as? IOError)?.errnoCode == EADDRINUSE)
        }
    }

    /// The addresses actually bound (ports filled in), UDP and TCP alike.
    public var boundAddresses: [SocketAddress] {
        self.listeners.withLockedValue { listeners in
            listeners.flatMap { $0.udp.compactMap(\.socket.localAddress) + [$0.tcp.localAddress].compactMap { $0 } }
        }
    }

    /// Stops taking queries, lets the ones in flight finish for up to `gracePeriod`, then closes everything.
    public func shutdown(gracePeriod: TimeAmount) async {
        let listeners = self.listeners.withLockedValue { $0 }
        let quic = listeners.filter { $0.address.kind == .quic }.map(\.tcp)
        for listener in listeners where listener.address.kind != .quic {
            try? await listener.tcp.close()
        }
        for channel in quic {
            channel.pipeline.fireUserInboundEventTriggered(DoQServerHandler.Drain())
        }
        let udpListeners = listeners.flatMap(\.udp)
        for listener in udpListeners {
            await listener.stopReceiving()
        }
        for connection in self.tcpConnections.channels {
            connection.pipeline.fireUserInboundEventTriggered(TCPQueryHandler.Drain())
        }
        let deadline = NIODeadline.now() + gracePeriod
        while NIODeadline.now() < deadline,
            self.udpInFlight.value > 0 || self.tcpConnections.openConnections > 0 || self.quicConnections.value > 0
        {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if self.udpInFlight.value > 0 || self.tcpConnections.openConnections > 0 || self.quicConnections.value > 0 {
            self.logger.warning("grace period over, closing with queries in flight", metadata: [
                "udp": "\(self.udpInFlight.value)", "tcpConnections": "\(self.tcpConnections.openConnections)",
                "quicConnections": "\(self.quicConnections.value)",
            ])
        }
        for channel in quic {
            try? await channel.close()
        }
        for listener in udpListeners {
            listener.socket.close()
        }
        for channel in self.tcpConnections.channels {
            try? await channel.close()
        }
    }
}
