public import DNSCore
public import Logging
public import NIOCore
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
/// cores read), and one TCP listener whose connections are spread over the loops.
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
    private let udpChannels = ChannelRegistry()
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
            let port = try await self.bindUDP(address)
            var tcpAddress = address
            tcpAddress.port = port
            try await self.bindTCP(tcpAddress)
            self.logger.info("listening", metadata: ["address": "\(tcpAddress)", "transports": "udp,tcp"])
        }
    }

    /// Binds a UDP socket on every loop; returns the port (the one the kernel chose when `address` has port 0).
    private func bindUDP(_ address: SocketAddress) async throws -> Int {
        var address = address
        for loop in self.group.makeIterator() {
            let pipeline = self.pipeline
            let timeout = self.configuration.queryTimeout
            let inFlight = self.udpInFlight
            do {
                let channel = try await DatagramBootstrap(group: loop)
                    .channelOption(.socketOption(.so_reuseaddr), value: 1)
                    .channelOption(.socketOption(NIOBSDSocket.Option(rawValue: SO_REUSEPORT)), value: 1)
                    .channelOption(.datagramVectorReadMessageCount, value: Self.vectorReadCount)
                    // One recvmmsg per readable event: a second call in the same tick mostly returns EAGAIN, and
                    // epoll reports the socket again if more than one vector's worth is waiting.
                    .channelOption(.maxMessagesPerRead, value: 1)
                    .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(
                        capacity: Self.vectorReadCount * Self.maxQuerySize))
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(
                                UDPQueryHandler(pipeline: pipeline, queryTimeout: timeout, inFlight: inFlight))
                        }
                    }
                    .bind(to: address).get()
                _ = self.udpChannels.add(channel)
                if let port = channel.localAddress?.port { address.port = port }
            } catch {
                throw FrontendError(description: "cannot listen on udp \(address): \(error)")
            }
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
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
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
            throw FrontendError(description: "cannot listen on tcp \(address): \(error)")
        }
    }

    /// The addresses actually bound (ports filled in), UDP and TCP alike.
    public var boundAddresses: [SocketAddress] {
        (self.udpChannels.all + self.tcpListeners.all).compactMap(\.localAddress)
    }

    /// Stops taking queries, lets the ones in flight finish for up to `gracePeriod`, then closes everything.
    public func shutdown(gracePeriod: TimeAmount) async {
        for listener in self.tcpListeners.all {
            try? await listener.close()
        }
        let udpChannels = self.udpChannels.all
        for channel in udpChannels {
            try? await channel.setOption(.autoRead, value: false).get()
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
        for channel in udpChannels + self.tcpConnections.channels {
            try? await channel.close()
        }
    }
}
