import NIOCore
import NIOEmbedded
import Testing
@testable import TransparentProxy
import DNSCore

/// The SOCKS5 client against a scripted server: what it sends, byte for byte, and what it does with each reply.
@Suite struct SOCKS5HandshakeTests {
    /// A connected channel with the handshake and a collector after it; returns them and the promise.
    func channel(username: String? = nil, command: SOCKS5Command = .connect(domain: "echo.example.", port: 8007))
        throws -> (EmbeddedChannel, EventLoopFuture<SocketAddress?>)
    {
        let channel = EmbeddedChannel()
        let established = channel.eventLoop.makePromise(of: SocketAddress?.self)
        let server = SOCKS5Server(address: try SocketAddress(ipAddress: "192.0.2.1", port: 1080), username: username,
                                  password: username == nil ? nil : "pw")
        try channel.pipeline.syncOperations.addHandler(
            SOCKS5Handshake(server: server, command: command, established: established))
        try channel.connect(to: SocketAddress(ipAddress: "192.0.2.1", port: 1080)).wait()
        return (channel, established.futureResult)
    }

    func sent(_ channel: EmbeddedChannel) throws -> [UInt8] {
        var bytes: [UInt8] = []
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) { bytes += buffer.readBytes(length: buffer.readableBytes) ?? [] }
        return bytes
    }

    @Test func connectsByDomainNameWithAuthenticationAndPassesOnWhatFollows() throws {
        let (channel, established) = try self.channel(username: "user")
        #expect(try self.sent(channel) == [5, 2, 0, 2])
        try channel.writeInbound(ByteBuffer(bytes: [5, 2]))
        #expect(try self.sent(channel) == [1, 4] + Array("user".utf8) + [2] + Array("pw".utf8))
        try channel.writeInbound(ByteBuffer(bytes: [1, 0]))
        #expect(try self.sent(channel) == [5, 1, 0, 3, 12] + Array("echo.example".utf8) + [0x1F, 0x47])
        // The reply (bound address 10.0.0.1:4242) and the first bytes of the stream, split oddly.
        try channel.writeInbound(ByteBuffer(bytes: [5, 0, 0, 1, 10, 0]))
        var bound: SocketAddress??
        established.assumeIsolated().whenSuccess { bound = $0 }
        #expect(bound == nil)
        try channel.writeInbound(ByteBuffer(bytes: [0, 1, 0x10, 0x92] + Array("banner".utf8)))
        #expect(bound == .some(try SocketAddress(ipAddress: "10.0.0.1", port: 4242)))
        #expect(try channel.readInbound(as: ByteBuffer.self) == ByteBuffer(string: "banner"))
        try channel.writeInbound(ByteBuffer(string: "more"))
        #expect(try channel.readInbound(as: ByteBuffer.self) == ByteBuffer(string: "more"), "the handshake left")
    }

    @Test(arguments: [
        ([UInt8]([5, 0xFF]), "accepts none of the offered methods"),
        ([4, 0], "not a SOCKS5 server"),
        ([5, 0, 5, 5, 0, 1, 0, 0, 0, 0, 0, 0], "could not connect (reply 5)"),
        ([5, 0, 5, 0, 0, 7, 1, 2], "unknown address type 7"),
    ])
    func refusalsFailTheDialAndClose(replies: [UInt8], message: String) throws {
        let (channel, established) = try self.channel()
        #expect(try self.sent(channel) == [5, 1, 0])
        var failure: (any Error)?
        established.assumeIsolated().whenFailure { failure = $0 }
        try channel.writeInbound(ByteBuffer(bytes: replies))
        #expect((failure as? SOCKS5Error)?.description.contains(message) == true, "\(String(describing: failure))")
        #expect(!channel.isActive)
    }

    @Test func udpAssociateAsksForAnyPortAndReportsTheRelay() throws {
        let (channel, established) = try self.channel(command: .udpAssociate)
        #expect(try self.sent(channel) == [5, 1, 0])
        try channel.writeInbound(ByteBuffer(bytes: [5, 0]))
        #expect(try self.sent(channel) == [5, 3, 0, 1, 0, 0, 0, 0, 0, 0])
        var bound: SocketAddress??
        established.assumeIsolated().whenSuccess { bound = $0 }
        // An IPv6 relay, fd00::53 port 40000.
        try channel.writeInbound(ByteBuffer(bytes: [5, 0, 0, 4, 0xFD] + [UInt8](repeating: 0, count: 14) + [0x53, 0x9C, 0x40]))
        #expect(bound == .some(try SocketAddress(ipAddress: "fd00::53", port: 40_000)))
        #expect(channel.isActive, "the connection stays open: it keeps the association alive")
    }

    @Test func relayedDatagramsCarryTheDomainAndLoseTheirHeaderOnTheWayBack() throws {
        var header = SOCKS5UDPHeader.header(domain: "echo.example.", port: 8007)
        #expect(header.readBytes(length: header.readableBytes) == [0, 0, 0, 3, 12] + Array("echo.example".utf8) + [0x1F, 0x47])
        let fromIPv4 = ByteBuffer(bytes: [0, 0, 0, 1, 10, 0, 0, 1, 0x1F, 0x47] + Array("pong".utf8))
        #expect(SOCKS5UDPHeader.payload(of: fromIPv4) == ByteBuffer(string: "pong"))
        let fromName = ByteBuffer(bytes: [0, 0, 0, 3, 1, 0x61, 0, 53] + Array("x".utf8))
        #expect(SOCKS5UDPHeader.payload(of: fromName) == ByteBuffer(string: "x"))
        #expect(SOCKS5UDPHeader.payload(of: ByteBuffer(bytes: [0, 0, 1, 1, 10, 0, 0, 1, 0, 53, 1])) == nil, "a fragment")
        #expect(SOCKS5UDPHeader.payload(of: ByteBuffer(bytes: [0, 0, 0, 4, 1, 2, 3])) == nil, "cut short")
        #expect(SOCKS5UDPHeader.payload(of: ByteBuffer(bytes: [0, 0, 0, 9, 1, 2, 3, 4, 5, 6])) == nil, "unknown type")
    }
}
