import DNSCore
public import NIOCore
import NIOPosix
import UpstreamTLS
import NIOTLS
import Crypto
import Foundation

/// Opens one connection to an upstream on a given event loop. The returned channel's pipeline ends in a
/// ``QueryCarrier`` and is ready for queries: for TLS, only once the handshake, certificate checks included, has
/// completed, so that no query is ever written to an unverified peer.
protocol UpstreamConnector: Sendable {
    func connect(on eventLoop: any EventLoop) -> EventLoopFuture<any Channel>

    /// The handler of a channel from ``connect(on:)`` that queries are sent through.
    func carrier(of channel: any Channel) -> (any QueryCarrier)?
}

extension UpstreamConnector {
    func carrier(of channel: any Channel) -> (any QueryCarrier)? {
        try? channel.pipeline.syncOperations.handler(type: UpstreamMultiplexer.self)
    }
}

/// What carries queries over one open upstream connection and matches their answers: the DNS multiplexer for
/// TCP, TLS and UDP, or the DoH one. Used on the connection's event loop only.
protocol QueryCarrier: AnyObject {
    /// Queries sent and not yet answered.
    var inFlight: Int { get }
    /// Whether the connection can take another query now.
    var isOpen: Bool { get }
    /// Sends `query`; `promise` completes with the matching answer (client ID restored) or an ``UpstreamError``.
    func send(_ query: UpstreamQuery, promise: EventLoopPromise<UpstreamAnswer>)
    /// Stops taking queries and closes the connection once those in flight are answered or expired.
    func closeWhenIdle()
}

/// Limits shared by every connection to one upstream.
public struct UpstreamConnectionOptions: Sendable {
    /// How long a TCP connect plus TLS handshake may take.
    public var connectTimeout: TimeAmount
    /// A connection with nothing in flight for this long is closed.
    public var idleTimeout: TimeAmount
    /// Queries in flight on one connection at most.
    public var maxInFlight: Int
    /// Queries in flight on a connection from which the next query goes to (and if need be opens) the loop's next
    /// connection to the upstream: servers work on a limited number of queries per connection, and queries
    /// beyond it queue behind them.
    public var spreadThreshold: Int

    public init(
        connectTimeout: TimeAmount = .seconds(3),
        idleTimeout: TimeAmount = .seconds(30),
        maxInFlight: Int = 1000,
        spreadThreshold: Int = 100
    ) {
        self.connectTimeout = connectTimeout
        self.idleTimeout = idleTimeout
        self.maxInFlight = maxInFlight
        self.spreadThreshold = spreadThreshold
    }
}

/// TCP, DNS-over-TLS or DNS-over-HTTPS connections.
struct StreamConnector: UpstreamConnector {
    let address: UpstreamAddress
    let tlsContext: TLSClientContext?
    let options: UpstreamConnectionOptions
    let statistics: UpstreamStatistics
    /// SHA-256 digests of the public keys the server may present; empty for no pinning.
    var pins: [[UInt8]] = []
    /// Where a host name is resolved, or nil for the system resolver.
    var resolver: BootstrapResolver? = nil
    /// For DoH: the requests' fixed parts; nil for DNS framing (RFC 7766) on the stream.
    var http2: DoHMultiplexer.Request? = nil
    /// For DoT: whether the upstream has refused ALPN `dot`, so that connections offer none.
    var alpnFallback: ALPNFallback? = nil

    func carrier(of channel: any Channel) -> (any QueryCarrier)? {
        guard self.http2 != nil else { return try? channel.pipeline.syncOperations.handler(type: UpstreamMultiplexer.self) }
        return try? channel.pipeline.syncOperations.handler(type: DoHMultiplexer.self)
    }

    func connect(on eventLoop: any EventLoop) -> EventLoopFuture<any Channel> {
        let offersALPN = self.alpnFallback?.isActive != true
        let attempt = self.connect(on: eventLoop, offeringApplicationProtocols: offersALPN)
        guard offersALPN, let fallback = self.alpnFallback else { return attempt }
        // RFC 7301 §3.2: a server that speaks none of the protocols offered says no_application_protocol. DNS over
        // the connection still works, so the upstream is asked again, and from now on, without ALPN.
        return attempt.flatMapError { error in
            guard (error as? TLSClientError)?.isApplicationProtocolRefused == true, fallback.activate() else {
                return eventLoop.makeFailedFuture(error)
            }
            return self.connect(on: eventLoop, offeringApplicationProtocols: false)
        }
    }

    private func connect(on eventLoop: any EventLoop,
                         offeringApplicationProtocols: Bool) -> EventLoopFuture<any Channel> {
        let address = self.address
        let options = self.options
        let statistics = self.statistics
        let handshake = self.tlsContext.map { _ in eventLoop.makePromise(of: Void.self) }
        let tlsContext = self.tlsContext
        let http2 = self.http2
        let pins = self.pins
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(options.connectTimeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelOption(.allowRemoteHalfClosure, value: false)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let tlsContext, let handshake {
                        try sync.addHandler(TLSClientHandler(
                            context: tlsContext, serverName: address.tlsName ?? address.host,
                            offersApplicationProtocols: offeringApplicationProtocols))
                        try sync.addHandler(TLSHandshakeObserver(promise: handshake,
                                                                 requiredProtocol: http2 == nil ? nil : "h2",
                                                                 pins: pins, statistics: statistics))
                    }
                    if let http2 {
                        try sync.addHandler(DoHMultiplexer(request: http2, maxInFlight: options.maxInFlight,
                                                           idleTimeout: options.idleTimeout,
                                                           upstreamName: address.description))
                        return
                    }
                    try sync.addHandler(ByteToMessageHandler(DNSLengthPrefixDecoder()))
                    try sync.addHandler(UpstreamMultiplexer(framing: .lengthPrefixed, maxInFlight: options.maxInFlight,
                                                            idleTimeout: options.idleTimeout,
                                                            upstreamName: address.description, statistics: statistics))
                }
            }
        let connected = address.connect(resolver: self.resolver, on: eventLoop,
                                        byName: { bootstrap.connect(host: $0, port: $1) },
                                        byAddress: { bootstrap.connect(to: $0) })
        guard let handshake else { return connected }
        return connected.afterHandshake(handshake, within: options.connectTimeout, upstream: address.description,
                                        protocolName: "TLS", on: eventLoop)
    }
}

extension EventLoopFuture where Value == any Channel {
    /// This connection, handed out only once `handshake` has succeeded within `timeout`: a handshake that fails or
    /// takes too long closes the channel and fails the connection with its error.
    func afterHandshake(_ handshake: EventLoopPromise<Void>, within timeout: TimeAmount, upstream: String,
                        protocolName: String, on eventLoop: any EventLoop) -> EventLoopFuture<any Channel> {
        self.cascadeFailure(to: handshake)
        let timer = eventLoop.scheduleTask(in: timeout) {
            handshake.fail(UpstreamError.connectFailed(upstream, reason: "\(protocolName) handshake timed out"))
        }
        handshake.futureResult.whenComplete { _ in timer.cancel() }
        return self.flatMap { channel in
            handshake.futureResult.map { channel }.flatMapErrorThrowing { error in
                channel.close(promise: nil)
                throw error
            }
        }
    }
}

/// Connected UDP sockets.
struct DatagramConnector: UpstreamConnector {
    /// SO_RCVBUF of each socket: room for a connection's answers in flight (the kernel doubles it for bookkeeping).
    static let receiveBufferSize = 1 << 20
    let address: UpstreamAddress
    let options: UpstreamConnectionOptions
    let statistics: UpstreamStatistics
    /// Where a host name is resolved, or nil for the system resolver.
    var resolver: BootstrapResolver? = nil

    func connect(on eventLoop: any EventLoop) -> EventLoopFuture<any Channel> {
        let address = self.address
        let options = self.options
        let statistics = self.statistics
        let bootstrap = DatagramBootstrap(group: eventLoop)
            .channelOption(.recvAllocator, value: DatagramSize.wholeDatagrams)
            // Answers to a burst of queries arrive together; the default 208 KiB holds fewer than a hundred large
            // ones (DNSSEC answers run to 1,232 bytes) and the kernel drops the rest. Linux caps this at rmem_max.
            .channelOption(.socketOption(.so_rcvbuf), value: Self.receiveBufferSize)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(DatagramPayloadUnwrapper())
                    try sync.addHandler(UpstreamMultiplexer(framing: .datagram, maxInFlight: options.maxInFlight,
                                                            idleTimeout: options.idleTimeout,
                                                            upstreamName: address.description, statistics: statistics))
                }
            }
        return address.connect(resolver: self.resolver, on: eventLoop,
                               byName: { bootstrap.connect(host: $0, port: $1) },
                               byAddress: { bootstrap.connect(to: $0) })
    }
}

/// Passes on the payload of each datagram read from a connected UDP socket.
final class DatagramPayloadUnwrapper: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias InboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(self.wrapInboundOut(self.unwrapInboundIn(data).data))
    }
}

/// Completes a promise when the TLS handshake succeeds (with `requiredProtocol` negotiated by ALPN, if given, and
/// a public key matching one of `pins`, if any), and fails it if the connection errors or closes first. Counts
/// resumed sessions in the upstream's statistics.
final class TLSHandshakeObserver: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let promise: EventLoopPromise<Void>
    private let requiredProtocol: String?
    private let pins: [[UInt8]]
    private let statistics: UpstreamStatistics?

    init(promise: EventLoopPromise<Void>, requiredProtocol: String? = nil, pins: [[UInt8]] = [],
         statistics: UpstreamStatistics? = nil) {
        self.promise = promise
        self.requiredProtocol = requiredProtocol
        self.pins = pins
        self.statistics = statistics
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted(let negotiated) = event as? TLSUserEvent {
            if let reason = self.refusal(negotiated: negotiated, context: context) {
                self.promise.fail(UpstreamError.tlsFailed(context.channel.remoteAddress?.description ?? "upstream",
                                                          reason: reason))
                context.close(promise: nil)
                return
            }
            let tls = try? context.pipeline.syncOperations.handler(type: TLSClientHandler.self)
            if tls?.resumedSession == true { self.statistics?.tlsSessionResumed() }
            self.promise.succeed(())
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Why the completed handshake is not good enough, or nil.
    private func refusal(negotiated: String?, context: ChannelHandlerContext) -> String? {
        if let required = self.requiredProtocol, negotiated != required {
            return "the server did not agree to ALPN \(required) (negotiated \(negotiated ?? "nothing"))"
        }
        guard !self.pins.isEmpty else { return nil }
        guard let handler = try? context.pipeline.syncOperations.handler(type: TLSClientHandler.self),
            let spki = handler.peerPublicKey
        else { return "no server public key to check the pins against" }
        let digest = Array(SHA256.hash(data: spki))
        return self.pins.contains(digest) ? nil
            : "the server's public key (pin_sha256=\(Data(digest).base64EncodedString())) matches no configured pin"
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.promise.fail(error)
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.promise.fail(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }
}
