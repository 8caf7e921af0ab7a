import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

/// A throwaway CA and a server certificate for `server.test` and 127.0.0.1, made with the openssl command.
struct TestCertificates {
    let directory: String
    var caPath: String { self.directory + "/ca.pem" }
    var certificatePath: String { self.directory + "/server.pem" }
    var keyPath: String { self.directory + "/server.key" }

    init() throws {
        self.directory = NSTemporaryDirectory() + "dnsgate-tls-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: self.directory, withIntermediateDirectories: true)
        let script = """
            set -e
            cd '\(self.directory)'
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj '/CN=test CA' \
                -keyout ca.key -out ca.pem 2>/dev/null
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj '/CN=server.test' \
                -keyout server.key -out server.csr 2>/dev/null
            printf 'subjectAltName=DNS:server.test,IP:127.0.0.1\\n' > san.ext
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext \
                -out server.pem 2>/dev/null
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TestFailure("openssl could not make the certificates") }
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: self.directory)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A TLS echo server on loopback (swift-nio-ssl, so the client is checked against another TLS implementation) that
/// counts the plaintext octets it received.
final class TLSEchoServer: Sendable {
    let channel: any Channel
    private let received = NIOLockedValueBox(0)

    var port: Int { self.channel.localAddress?.port ?? 0 }
    var receivedOctets: Int { self.received.withLockedValue { $0 } }

    init(group: any EventLoopGroup, certificates: TestCertificates, alpn: [String] = ["dot"]) throws {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(certificates.certificatePath).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: certificates.keyPath, format: .pem)))
        configuration.applicationProtocols = alpn
        let context = try NIOSSLContext(configuration: configuration)
        let received = self.received
        self.channel = try ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.addHandler(Echo(received: received))
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
    }

    func close() {
        try? self.channel.close().wait()
    }

    private final class Echo: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let received: NIOLockedValueBox<Int>

        init(received: NIOLockedValueBox<Int>) { self.received = received }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = self.unwrapInboundIn(data)
            self.received.withLockedValue { $0 += buffer.readableBytes }
            context.writeAndFlush(self.wrapOutboundOut(buffer), promise: nil)
        }
    }
}
