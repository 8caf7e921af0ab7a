public import DNSCore
public import Logging
public import NIOCore
import NIOConcurrencyHelpers
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Limits and timeouts of the UDP and TCP listeners.
public struct FrontendConfiguration: Sendable {
    /// Addresses to listen on, each for UDP and TCP.
    public var listen: [SocketAddress]
    /// How long a client waits at most before dnsgate answers (SERVFAIL if nothing better).
    public var queryTimeout: TimeAmount
    /// A TCP connection with nothing to do for this long is closed (RFC 7766 §6.2.3).
    public var tcpIdleTimeout: TimeAmount
    /// TCP connections open at once, across all listeners' sockets.
    public var maxTCPConnections: Int
    /// Queries in flight on one TCP connection before dnsgate stops reading from it.
    public var maxTCPQueriesPerConnection: Int

    public init(
        listen: [SocketAddress],
        queryTimeout: TimeAmount = .seconds(5),
        tcpIdleTimeout: TimeAmount = .seconds(10),
        maxTCPConnections: Int = 1000,
        maxTCPQueriesPerConnection: Int = 100
    ) {
        self.listen = listen
        self.queryTimeout = queryTimeout
        self.tcpIdleTimeout = tcpIdleTimeout
        self.maxTCPConnections = maxTCPConnections
        self.maxTCPQueriesPerConnection = maxTCPQueriesPerConnection
    }
}

/// A listener that could not be opened.
public struct FrontendError: Error, CustomStringConvertible {
    public let description: String
}

/// The plain DNS listeners: for every configured address a UDP socket per event loop (`SO_REUSEPORT`, so both
/// cores read), each served by a ``UDPQueryListener`` thread, and one TCP listener whose connections are spread
/// over the loops.
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
    private let tcpConnections: ConnectionLimiter
    private let udpListeners = NIOLockedValueBox<[UDPQueryListener]>([])
    private let tcpListeners = ChannelRegistry()

    public init(configuration: FrontendConfiguration, pipeline: any DNSHandler, group: any EventLoopGroup,
                logger: Logger) {
        self.configuration = configuration
        self.pipeline = pipeline
        self.group = group
        self.logger = logger
        self.tcpConnections = ConnectionLimiter(limit: configuration.maxTCPConnections)
    }

    /// Opens every listener; throws ``FrontendError`` naming the address that could not be bound.
    public func start() async throws {
        for address in self.configuration.listen {
            let port = try self.bindUDP(address)
            var tcpAddress = address
            tcpAddress.port = port
            try await self.bindTCP(tcpAddress)
            self.logger.info("listening", metadata: ["address": "\(tcpAddress)", "transports": "udp,tcp"])
        }
    }

    /// Opens a UDP socket per event loop, each read by its own thread; returns the port (the one the kernel chose
    /// when `address` has port 0).
    private func bindUDP(_ address: SocketAddress) throws(FrontendError) -> Int {
        var address = address
        let responder = UDPQueryResponder(pipeline: self.pipeline, queryTimeout: self.configuration.queryTimeout)
        for loop in self.group.makeIterator() {
            let socket = try UDPListenerSocket(boundTo: address)
            let listener = UDPQueryListener(socket: socket, responder: responder, eventLoop: loop,
                                            inFlight: self.udpInFlight)
            self.udpListeners.withLockedValue { $0.append(listener) }
            try listener.start()
            if let port = socket.localAddress?.port { address.port = port }
        }
        return address.port ?? 0
    }

    private func bindTCP(_ address: SocketAddress) async throws {
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
                        try sync.addHandler(ByteToMessageHandler(DNSLengthPrefixDecoder()))
                        try sync.addHandler(TCPQueryHandler(
                            pipeline: pipeline, queryTimeout: configuration.queryTimeout,
                            maxInFlight: configuration.maxTCPQueriesPerConnection,
                            idleTimeout: configuration.tcpIdleTimeout))
                    }
                }
                .bind(to: address).get()
            _ = self.tcpListeners.add(channel)
        } catch {
            throw FrontendError(description: "cannot listen on tcp \(address.hostAndPort): \(error)")
        }
    }

    /// The addresses actually bound (ports filled in), UDP and TCP alike.
    public var boundAddresses: [SocketAddress] {
        self.udpListeners.withLockedValue { $0 }.compactMap(\.socket.localAddress)
            + self.tcpListeners.all.compactMap(\.localAddress)
    }

    /// Stops taking queries, lets the ones in flight finish for up to `gracePeriod`, then closes everything.
    public func shutdown(gracePeriod: TimeAmount) async {
        for listener in self.tcpListeners.all {
            try? await listener.close()
        }
        let udpListeners = self.udpListeners.withLockedValue { $0 }
        for listener in udpListeners {
            await listener.stopReceiving()
        }
        for connection in self.tcpConnections.channels {
            connection.pipeline.fireUserInboundEventTriggered(TCPQueryHandler.Drain())
        }
        let deadline = NIODeadline.now() + gracePeriod
        while NIODeadline.now() < deadline,
            self.udpInFlight.value > 0 || self.tcpConnections.openConnections > 0
        {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if self.udpInFlight.value > 0 || self.tcpConnections.openConnections > 0 {
            self.logger.warning("grace period over, closing with queries in flight", metadata: [
                "udp": "\(self.udpInFlight.value)", "tcpConnections": "\(self.tcpConnections.openConnections)",
            ])
        }
        for listener in udpListeners {
            listener.socket.close()
        }
        for channel in self.tcpConnections.channels {
            try? await channel.close()
        }
    }
}
