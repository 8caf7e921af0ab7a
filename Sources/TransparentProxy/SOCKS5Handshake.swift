public import NIOCore
public import DNSCore

/// Why a SOCKS5 server would not connect.
public struct SOCKS5Error: Error, CustomStringConvertible, Hashable {
    private enum Base: Hashable {
        case closed
        case notSOCKS5
        case noAcceptableMethod
        case credentialsRefused
        case connectFailed(reply: UInt8)
        case unknownAddressType(UInt8)
        case noRelayAddress
        case timedOut
    }

    private let base: Base

    private init(_ base: Base) {
        self.base = base
    }

    /// The server closed the connection during the handshake.
    public static let closed = Self(.closed)
    /// The server does not speak SOCKS5.
    public static let notSOCKS5 = Self(.notSOCKS5)
    /// The server accepts none of the authentication methods offered.
    public static let noAcceptableMethod = Self(.noAcceptableMethod)
    /// The server refused the username and password (RFC 1929).
    public static let credentialsRefused = Self(.credentialsRefused)
    /// The server could not connect or associate: its reply code (RFC 1928 §6).
    public static func connectFailed(reply: UInt8) -> Self { Self(.connectFailed(reply: reply)) }
    /// The server's reply holds an address type RFC 1928 does not define.
    public static func unknownAddressType(_ type: UInt8) -> Self { Self(.unknownAddressType(type)) }
    /// A UDP association named no relay address.
    public static let noRelayAddress = Self(.noRelayAddress)
    /// The server did not answer in time.
    public static let timedOut = Self(.timedOut)

    public var description: String {
        switch self.base {
        case .closed: return "the SOCKS5 server closed the connection"
        case .notSOCKS5: return "not a SOCKS5 server"
        case .noAcceptableMethod: return "the SOCKS5 server accepts none of the offered methods"
        case .credentialsRefused: return "the SOCKS5 server refused the credentials"
        case .connectFailed(let reply): return "the SOCKS5 server could not connect (reply \(reply))"
        case .unknownAddressType(let type): return "the SOCKS5 server replied with an unknown address type \(type)"
        case .noRelayAddress: return "the SOCKS5 server named no relay address"
        case .timedOut: return "the SOCKS5 server did not answer in time"
        }
    }
}

/// What to ask a SOCKS5 server for once authenticated.
enum SOCKS5Command: Hashable {
    /// A TCP connection to `domain`:`port`, which the server resolves (address type 3).
    case connect(domain: String, port: Int)
    /// A UDP relay (RFC 1928 §7) for datagrams from any port of this host; the reply names the relay's address.
    case udpAssociate
}

/// The client side of a SOCKS5 request: greeting, optional RFC 1929 authentication, then the command. On success
/// it fulfils `established` with the address in the server's reply (the relay for UDP ASSOCIATE; nil when the
/// server names it by domain), passes on any bytes that came after the reply and leaves the pipeline; on failure
/// it fails `established` and closes. Sits first in the pipeline.
final class SOCKS5Handshake: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        case greeting
        case authenticating
        case connecting
        case done
    }

    private let server: SOCKS5Server
    private let command: SOCKS5Command
    private let established: EventLoopPromise<SocketAddress?>
    private var state = State.greeting
    private var buffer = ByteBuffer()

    init(server: SOCKS5Server, command: SOCKS5Command, established: EventLoopPromise<SocketAddress?>) {
        self.server = server
        self.command = command
        self.established = established
    }

    func channelActive(context: ChannelHandlerContext) {
        let methods: [UInt8] = self.server.username == nil ? [0x00] : [0x00, 0x02]
        self.send(context, [0x05, UInt8(methods.count)] + methods)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = self.unwrapInboundIn(data)
        self.buffer.writeBuffer(&bytes)
        do {
            try self.advance(context)
        } catch {
            self.fail(context, error)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.fail(context, SOCKS5Error.closed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.fail(context, error)
    }

    private func advance(_ context: ChannelHandlerContext) throws {
        while true {
            switch self.state {
            case .greeting:
                guard let reply = self.buffer.readBytes(length: 2) else { return }
                guard reply[0] == 0x05 else { throw SOCKS5Error.notSOCKS5 }
                switch reply[1] {
                case 0x00:
                    self.sendConnect(context)
                case 0x02 where self.server.username != nil:
                    let user = Array((self.server.username ?? "").utf8.prefix(255))
                    let password = Array((self.server.password ?? "").utf8.prefix(255))
                    self.send(context, [0x01, UInt8(user.count)] + user + [UInt8(password.count)] + password)
                    self.state = .authenticating
                default:
                    throw SOCKS5Error.noAcceptableMethod
                }
            case .authenticating:
                guard let reply = self.buffer.readBytes(length: 2) else { return }
                guard reply[1] == 0x00 else { throw SOCKS5Error.credentialsRefused }
                self.sendConnect(context)
            case .connecting:
                guard let length = try self.replyLength() else { return }
                guard let reply = self.buffer.readBytes(length: length) else { return }
                guard reply[1] == 0x00 else {
                    throw SOCKS5Error.connectFailed(reply: reply[1])
                }
                self.state = .done
                self.established.succeed(Self.boundAddress(in: reply))
                let rest = self.buffer
                self.buffer = ByteBuffer()
                if rest.readableBytes > 0 { context.fireChannelRead(self.wrapInboundOut(rest)) }
                context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
                return
            case .done:
                return
            }
        }
    }

    /// The reply's length, once its address type is known.
    private func replyLength() throws(SOCKS5Error) -> Int? {
        guard let type = self.buffer.getInteger(at: self.buffer.readerIndex + 3, as: UInt8.self) else { return nil }
        switch type {
        case 0x01: return 4 + 4 + 2
        case 0x04: return 4 + 16 + 2
        case 0x03:
            guard let length = self.buffer.getInteger(at: self.buffer.readerIndex + 4, as: UInt8.self) else { return nil }
            return 4 + 1 + Int(length) + 2
        default: throw SOCKS5Error.unknownAddressType(type)
        }
    }

    /// BND.ADDR and BND.PORT of a reply with an IPv4 or IPv6 address.
    private static func boundAddress(in reply: [UInt8]) -> SocketAddress? {
        let length = reply.count
        guard length >= 4 + 4 + 2 else { return nil }
        let port = Int(reply[length - 2]) << 8 | Int(reply[length - 1])
        let address = reply[4..<(length - 2)]
        switch (reply[3], address.count) {
        case (0x01, 4):
            return try? SocketAddress(ipAddress: address.map(String.init).joined(separator: "."), port: port)
        case (0x04, 16):
            let groups = stride(from: address.startIndex, to: address.endIndex, by: 2).map {
                String(UInt16(address[$0]) << 8 | UInt16(address[$0 + 1]), radix: 16)
            }
            return try? SocketAddress(ipAddress: groups.joined(separator: ":"), port: port)
        default:
            return nil
        }
    }

    private func sendConnect(_ context: ChannelHandlerContext) {
        switch self.command {
        case .connect(let domain, let port):
            let name = Array(SOCKS5UDPHeader.bareName(domain).utf8.prefix(255))
            self.send(context, [0x05, 0x01, 0x00, 0x03, UInt8(name.count)] + name + [UInt8(port >> 8), UInt8(port & 0xFF)])
        case .udpAssociate:
            // DST.ADDR 0.0.0.0:0: the datagrams will come from a port not known yet (RFC 1928 §7).
            self.send(context, [0x05, 0x03, 0x00, 0x01, 0, 0, 0, 0, 0, 0])
        }
        self.state = .connecting
    }

    private func send(_ context: ChannelHandlerContext, _ bytes: [UInt8]) {
        context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(bytes: bytes)), promise: nil)
    }

    private func fail(_ context: ChannelHandlerContext, _ error: any Error) {
        guard self.state != .done else { return }
        self.state = .done
        self.established.fail(error)
        context.close(promise: nil)
    }
}
