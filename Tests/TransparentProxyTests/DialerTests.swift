import DNSCore
import DNSWire
import NIOCore
import NIOPosix
import Testing
@testable import TransparentProxy

/// The dialers behind the rule actions, against real sockets on loopback: the direct dialer's order of addresses
/// and its choice of family for UDP, the SOCKS5 dialer's UDP path from a scripted server, and the refusals.
@Suite struct DialerTests {
    /// Answers A and AAAA questions from fixed lists, like the pipeline behind the fake-IP stage would.
    struct AddressBook: DNSHandler {
        var v4: [[UInt8]] = []
        var v6: [[UInt8]] = []

        func handle(_ request: DNSRequest, eventLoop: any EventLoop) -> EventLoopFuture<DNSResponse> {
            let question = request.question
            var message = DNSMessage(id: request.id, flags: request.view.header.flags | DNSHeader.Flag.qr,
                                     questions: [question])
            let addresses = question.type == .a ? self.v4 : question.type == .aaaa ? self.v6 : []
            message.answers = addresses.map {
                DNSRecord(name: question.name, type: question.type, ttl: 60, rdata: $0)
            }
            return eventLoop.makeSucceededFuture(DNSResponse(message: message.encoded()))
        }
    }

    static let loopback4: [UInt8] = [127, 0, 0, 1]
    static let loopback6: [UInt8] = Array(repeating: 0, count: 15) + [1]

    func direct(_ book: AddressBook) -> DirectDialer {
        DirectDialer(resolver: NameResolver(pipeline: book, timeout: .seconds(2)), connectTimeout: .seconds(2))
    }

    /// A TCP server on 127.0.0.1 that answers each read with the next of `replies`.
    func server(on group: any EventLoopGroup, replies: [[UInt8]] = []) async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ScriptedReplies(replies))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    final class ScriptedReplies: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        private var replies: [[UInt8]]

        init(_ replies: [[UInt8]]) {
            self.replies = replies
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard !self.replies.isEmpty else { return }
            context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(bytes: self.replies.removeFirst())), promise: nil)
        }
    }

    @Test func directConnectionsTryEachAddressInTurn() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let listener = try await self.server(on: group)
        let port = try #require(listener.localAddress?.port)
        // ::1 comes first (IPv6 is preferred) and refuses: nothing listens there on this port.
        let dialer = self.direct(AddressBook(v4: [Self.loopback4], v6: [Self.loopback6]))
        let channel = try await dialer.connect(to: "service.test.", port: port, on: group.next()).get()
        #expect(channel.remoteAddress == (try SocketAddress(ipAddress: "127.0.0.1", port: port)))
        try await channel.close()
        try await listener.close()
        try await group.shutdownGracefully()
    }

    @Test func aDirectConnectionFailsWhenNoAddressAnswers() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let listener = try await self.server(on: group)
        let port = try #require(listener.localAddress?.port)
        try await listener.close()
        let refused = self.direct(AddressBook(v4: [Self.loopback4]))
        await #expect(throws: (any Error).self) {
            try await refused.connect(to: "service.test.", port: port, on: group.next()).get()
        }
        let unknown = self.direct(AddressBook())
        await #expect(throws: TransparentProxyError.self) {
            try await unknown.connect(to: "nothing.test.", port: port, on: group.next()).get()
        }
        try await group.shutdownGracefully()
    }

    @Test func directDatagramsGoToAnAddressOfTheFakeAddressFamily() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let documentation6: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1]
        let dialer = self.direct(AddressBook(v4: [[192, 0, 2, 1]], v6: [documentation6]))
        let loop = group.next()
        let fake4 = try #require(IPAddress("198.18.0.1"))
        let fake6 = try #require(IPAddress("fd00::1"))
        let v4 = try await dialer.datagramPath(to: "service.test.", port: 53, preferring: fake4, on: loop).get()
        let v6 = try await dialer.datagramPath(to: "service.test.", port: 53, preferring: fake6, on: loop).get()
        #expect(v4.peer == (try SocketAddress(ipAddress: "192.0.2.1", port: 53)))
        #expect(v6.peer == (try SocketAddress(ipAddress: "2001:db8::1", port: 53)))
        #expect(v4.header == nil && v4.control == nil)
        let onlyV6 = self.direct(AddressBook(v6: [Self.loopback6]))
        let fallback = try await onlyV6.datagramPath(to: "service.test.", port: 53, preferring: fake4, on: loop).get()
        #expect(fallback.peer == (try SocketAddress(ipAddress: "::1", port: 53)))
        try await group.shutdownGracefully()
    }

    @Test func socks5DatagramsGoToTheRelayOnTheServersAddressHeadedWithTheDomain() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        // No authentication, then a UDP ASSOCIATE granted with a relay on "any address", port 8080.
        let listener = try await self.server(on: group, replies: [[5, 0], [5, 0, 0, 1, 0, 0, 0, 0, 0x1F, 0x90]])
        let address = try #require(listener.localAddress)
        let dialer = SOCKS5Dialer(server: SOCKS5Server(address: address), connectTimeout: .seconds(2))
        let path = try await dialer.datagramPath(to: "viasocks.test.", port: 8007,
                                                 preferring: #require(IPAddress("198.18.0.1")), on: group.next()).get()
        #expect(path.peer == (try SocketAddress(ipAddress: "127.0.0.1", port: 8080)))
        #expect(path.header == SOCKS5UDPHeader.header(domain: "viasocks.test.", port: 8007))
        let answer = ByteBuffer(bytes: [0, 0, 0, 1, 10, 0, 0, 1, 0x1F, 0x47] + Array("pong".utf8))
        #expect(path.payload(answer) == ByteBuffer(string: "pong"))
        let control = try #require(path.control)
        #expect(control.isActive)
        try await control.close()
        try await listener.close()
        try await group.shutdownGracefully()
    }

    @Test func rejectedDomainsAndSOCKS5WithoutAServerAreRefusedBothWays() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let resolver = NameResolver(pipeline: AddressBook(v4: [Self.loopback4]), timeout: .seconds(2))
        let table = DialerTable(settings: TransparentProxySettings(listen: []), resolver: resolver)
        let fake = try #require(IPAddress("198.18.0.1"))
        let refusals: [(ProxyRule.Action, String)] = [(.reject, "rejected by rule"),
                                                      (.socks5, "no SOCKS5 server is configured")]
        for (action, reason) in refusals {
            let dialer = table.dialer(for: action)
            await #expect(throws: TransparentProxyError.refused(reason)) {
                try await dialer.connect(to: "service.test.", port: 80, on: loop).get()
            }
            await #expect(throws: TransparentProxyError.refused(reason)) {
                try await dialer.datagramPath(to: "service.test.", port: 53, preferring: fake, on: loop).get()
            }
        }
        #expect(table.dialer(for: .direct) is DirectDialer)
        try await group.shutdownGracefully()
    }
}
