import Crypto
import DNSCore
@testable import DNSSEC
import DNSWire
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// The validating stage in front of an upstream that drops DNSSEC data: it must fail closed and name the upstream.
@Suite struct ValidationMiddlewareTests {
    static let upstreamName = "udp://192.0.2.53:53"

    /// Answers every query with data and no signatures, and never sets DO in its OPT record: A queries with an A
    /// record, DNSKEY queries with `dnskey`.
    struct DNSSECBlindUpstream: DNSHandler {
        let dnskey: [UInt8]

        func handle(_ request: DNSRequest, eventLoop: any EventLoop) -> EventLoopFuture<DNSResponse> {
            let question = request.question
            var message = DNSMessage(id: request.id, flags: DNSHeader.Flag.qr | DNSHeader.Flag.rd | DNSHeader.Flag.ra,
                                     questions: [question])
            message.answers = question.type == .dnskey
                ? [DNSRecord(name: question.name, type: .dnskey, ttl: 3600, rdata: self.dnskey)]
                : [.a(question.name, (192, 0, 2, 1), ttl: 300)]
            message.additionals = [.opt(udpPayloadSize: 1232)]
            return eventLoop.makeSucceededFuture(DNSResponse(message: message.encoded(), origin: .upstream,
                                                             upstream: ValidationMiddlewareTests.upstreamName))
        }
    }

    @Test func anUpstreamThatDropsSignaturesFailsClosedAndIsNamed() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            try await self.check(on: group.next())
        } catch {
            try await group.shutdownGracefully()
            throw error
        }
        try await group.shutdownGracefully()
    }

    private func check(on loop: any EventLoop) async throws {
        // The anchor is this key's own DS: only the missing signatures stand between the answers and "secure".
        let key = P256.Signing.PrivateKey()
        let dnskeyData: [UInt8] = [0x01, 0x01, 3, 13] + Array(key.publicKey.rawRepresentation)
        let dnskey = try #require(DNSKEYRecord(rdata: dnskeyData))
        let digest = try #require(DSDigest.digest(type: DSDigest.sha256, owner: .root, key: dnskey))
        let hex = digest.map { String($0, radix: 16) }.map { $0.count == 1 ? "0" + $0 : $0 }.joined()
        let anchors = try TrustAnchors(zoneFile: ". IN DS \(dnskey.keyTag) 13 2 \(hex)")
        let upstream = DNSSECBlindUpstream(dnskey: dnskeyData)
        let named = Mutex<[String]>([])
        let statistics = ValidationStatistics()
        let stage = DNSSECValidationMiddleware(
            settings: ValidatorSettings(anchors: anchors), fetch: upstream, statistics: statistics,
            onUnsignedUpstream: { name in named.withLock { $0.append(name) } }, logger: Logger(label: "test"))

        let query = DNSMessage.query(try #require(DNSName("www.example.")), .a, id: 7, udpPayloadSize: 1232).encoded()
        let request = try #require(DNSRequest(message: query, view: try DNSMessageView(query),
                                              metadata: DNSRequestMetadata(client: nil, transport: .udp),
                                              deadline: .now() + .seconds(5)))
        let response = try await loop.flatSubmit { stage.handle(request, eventLoop: loop, next: upstream) }.get()

        let answer = try DNSMessage(response.message)
        #expect(answer.flags & 0x000F == DNSRCode.servFail.rawValue)
        #expect(answer.answers.isEmpty)
        #expect(response.dnssec == .bogus)
        // Extended DNS Error 10, RRSIGs Missing: the root's DNSKEY set came without its signature.
        #expect(answer.additionals.first { $0.type == .opt }?.rdata == DNSExtendedErrorCode.rrsigsMissing.option)
        #expect(!named.withLock { $0 }.isEmpty)
        #expect(named.withLock { $0 }.allSatisfy { $0 == Self.upstreamName })
        #expect(statistics.unsignedUpstreamAnswers >= 2)
        #expect(statistics.bogus(.rrsigsMissing) == 1)
    }
}
