import NIOCore
import NIOPosix
import Testing
import UpstreamTLS

/// ``TLSClientHandler`` against a swift-nio-ssl (BoringSSL) server on loopback: verification, ALPN, pipelined and
/// large writes, and session resumption.
@Suite(.serialized) final class TLSClientHandlerTests {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let certificates: TestCertificates
    let server: TLSEchoServer

    init() throws {
        self.certificates = try TestCertificates()
        self.server = try TLSEchoServer(group: self.group, certificates: self.certificates)
    }

    deinit {
        self.server.close()
        try? self.group.syncShutdownGracefully()
        self.certificates.remove()
    }

    private func context(alpn: [String] = ["dot"], verifies: Bool = true, trusted: Bool = true,
                         resumes: Bool = true) throws -> TLSClientContext {
        try TLSClientContext(configuration: TLSClientConfiguration(
            applicationProtocols: alpn, verifiesCertificates: verifies,
            additionalTrustAnchorFiles: trusted ? [self.certificates.caPath] : [], resumesSessions: resumes))
    }

    private func connect(_ context: TLSClientContext, name: String = "server.test") throws -> TLSTestClient {
        try TLSTestClient(group: self.group, context: context, serverName: name, port: self.server.port)
    }

    @Test func aVerifiedServerAnswersAndALPNIsNegotiated() throws {
        let client = try self.connect(try self.context())
        defer { client.close() }
        #expect(try client.handshake() == "dot")
        let echoed = try client.exchange([ByteBuffer(string: "hello")], expecting: 5)
        #expect(echoed == ByteBuffer(string: "hello"))
    }

    @Test func anIPAddressIsVerifiedAgainstTheCertificatesAddresses() throws {
        let client = try self.connect(try self.context(), name: "127.0.0.1")
        defer { client.close() }
        #expect(try client.handshake() == "dot")
    }

    @Test(arguments: ["other.test", "127.0.0.2"])
    func aWrongNameFailsTheHandshakeAndNothingIsSent(name: String) throws {
        let client = try self.connect(try self.context(), name: name)
        defer { client.close() }
        let written = client.channel.writeAndFlush(ByteBuffer(string: "secret"))
        #expect(throws: TLSClientError.self) { try client.handshake() }
        #expect(throws: (any Error).self) { try written.wait() }
        #expect(self.server.receivedOctets == 0)
        do {
            _ = try client.handshake()
        } catch let error as TLSClientError {
            #expect(error.isHandshakeFailure)
            #expect(error.reason.contains("certificate verify failed"), "\(error)")
        }
    }

    @Test func anUntrustedChainFailsUnlessVerificationIsOff() throws {
        let strict = try self.connect(try self.context(trusted: false))
        defer { strict.close() }
        #expect(throws: TLSClientError.self) { try strict.handshake() }
        let unverified = try self.connect(try self.context(verifies: false, trusted: false), name: "other.test")
        defer { unverified.close() }
        #expect(try unverified.handshake() == "dot")
        #expect(try unverified.exchange([ByteBuffer(string: "x")], expecting: 1).readableBytes == 1)
    }

    @Test func pipelinedAndLargeWritesArriveWholeAndInOrder() throws {
        let client = try self.connect(try self.context())
        defer { client.close() }
        // Written before the handshake has completed: they wait for it.
        var buffers = (0..<300).map { ByteBuffer(string: String(format: "query %05d;", $0)) }
        buffers.append(ByteBuffer(bytes: (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }))
        let expected = buffers.reduce(into: ByteBuffer()) { $0.writeImmutableBuffer($1) }
        let echoed = try client.exchange(buffers, expecting: expected.readableBytes)
        #expect(echoed == expected)
    }

    @Test func aSecondConnectionResumesTheSessionAndStillKnowsTheServersKey() throws {
        let context = try self.context()
        let first = try self.connect(context)
        #expect(try first.handshake() == "dot")
        // TLS 1.3 tickets arrive after the handshake, with the first application data.
        _ = try first.exchange([ByteBuffer(string: "one")], expecting: 3)
        let key = try first.channel.eventLoop.submit { first.handler.peerPublicKey }.wait()
        #expect(try first.channel.eventLoop.submit { first.handler.resumedSession }.wait() == false)
        first.close()
        #expect(context.storedSessions > 0)

        let second = try self.connect(context)
        defer { second.close() }
        #expect(try second.handshake() == "dot")
        #expect(try second.channel.eventLoop.submit { second.handler.resumedSession }.wait())
        #expect(try second.channel.eventLoop.submit { second.handler.peerPublicKey }.wait() == key)
        #expect(key != nil)
        #expect(try second.exchange([ByteBuffer(string: "two")], expecting: 3) == ByteBuffer(string: "two"))
    }

    @Test func noSessionIsKeptWhenResumptionIsOff() throws {
        let context = try self.context(resumes: false)
        for _ in 0..<2 {
            let client = try self.connect(context)
            #expect(try client.handshake() == "dot")
            _ = try client.exchange([ByteBuffer(string: "x")], expecting: 1)
            #expect(try client.channel.eventLoop.submit { client.handler.resumedSession }.wait() == false)
            client.close()
        }
        #expect(context.storedSessions == 0)
    }

    @Test func aTrustAnchorFileWithoutCertificatesIsAConfigurationError() throws {
        #expect(throws: TLSClientError.self) {
            try TLSClientContext(configuration: TLSClientConfiguration(
                additionalTrustAnchorFiles: [self.certificates.directory + "/san.ext"]))
        }
        #expect(throws: TLSClientError.self) {
            try TLSClientContext(configuration: TLSClientConfiguration(additionalTrustAnchorFiles: ["/nonexistent.pem"]))
        }
    }
}
