import DNSTestSupport
import DNSWire
import NIOCore
import Testing

@Suite struct GoldenMessageTests {
    @Test func kdigPlainQueryParsesAndReencodesByteForByte() throws {
        let buffer = try #require(ByteBuffer(hex: GoldenMessages.kdigPlainQuery))
        let view = try DNSMessageView(buffer)
        #expect(view.header.id == 0x7E69)
        #expect(view.header.recursionDesired)
        #expect(!view.header.isResponse)
        #expect(view.question == DNSQuestion(name: try #require(DNSName("www.example.com")), type: .a))
        #expect(view.opt == nil)
        #expect(view.messageEnd == buffer.readableBytes)
        #expect(try DNSMessage(buffer).encoded().bytes == buffer.bytes)
    }

    @Test func kdigDNSSECQueryCarriesEDNS() throws {
        let buffer = try #require(ByteBuffer(hex: GoldenMessages.kdigDNSSECQuery))
        let view = try DNSMessageView(buffer)
        let opt = try #require(view.opt)
        #expect(opt.udpPayloadSize == 4096)
        #expect(opt.dnssecOK)
        #expect(opt.version == 0)
        #expect(opt.optionsLength == 0)
        #expect(view.question?.type == .aaaa)
        #expect(view.question?.name.description == "example.org.")
        #expect(try DNSMessage(buffer).encoded().bytes == buffer.bytes)
    }

    @Test func kdigNoEDNSQuery() throws {
        let buffer = try #require(ByteBuffer(hex: GoldenMessages.kdigNoEDNSQuery))
        let message = try DNSMessage(buffer)
        #expect(message.questions == [DNSQuestion(name: try #require(DNSName("a.b.c.")), type: .txt)])
        #expect(message.additionals.isEmpty)
    }

    @Test func knotAnswerWithCompressedOwnersIsIndexed() throws {
        let buffer = try #require(ByteBuffer(hex: GoldenMessages.knotMulti))
        let view = try DNSMessageView(buffer)
        #expect(view.header.isResponse)
        #expect(view.records.count == 8)
        #expect(view.records.allSatisfy { $0.type == .a && $0.section == .answer && $0.rdataLength == 4 })
        #expect(view.records.compactMap { buffer.dnsTTL(of: $0) } == Array(repeating: 3600, count: 8))
        let message = try DNSMessage(buffer)
        #expect(message.answers.map(\.rdata.last) == (10...17).map { UInt8($0) })
        #expect(message.answers.allSatisfy { $0.name.description == "multi.bench.test." })
    }

    @Test func knotCNAMEChainTargetsAreDecompressed() throws {
        let message = try DNSMessage(try #require(ByteBuffer(hex: GoldenMessages.knotCNAMEChain)))
        let targets = message.answers.filter { $0.type == .cname }.map {
            DNSMessageTestHelpers.name(fromWire: $0.rdata)
        }
        #expect(targets == ["c2.bench.test.", "c3.bench.test.", "h000000.bench.test."])
        #expect(message.answers.last?.rdata == [198, 18, 0, 0])
    }

    @Test func knotNXDomainKeepsSOAAndRCode() throws {
        let buffer = try #require(ByteBuffer(hex: GoldenMessages.knotNXDomain))
        let view = try DNSMessageView(buffer)
        #expect(view.rcode == .nxDomain)
        #expect(view.records.count == 1)
        #expect(view.records.first?.section == .authority)
        #expect(view.records.first?.type == .soa)
        let soa = try #require(try DNSMessage(buffer).authorities.first)
        // mname ns.bench.test., rname hostmaster.bench.test., then 5 × 32-bit fields.
        #expect(soa.rdata.count == 15 + 23 + 20)
        #expect(Array(soa.rdata.suffix(4)) == [0, 0, 1, 44])
    }
}

enum DNSMessageTestHelpers {
    /// The presentation form of an uncompressed wire name.
    static func name(fromWire wire: [UInt8]) -> String {
        var parts: [String] = []
        var offset = 0
        while offset < wire.count, wire[offset] != 0 {
            let length = Int(wire[offset])
            parts.append(String(decoding: wire[(offset + 1)...(offset + length)], as: UTF8.self))
            offset += 1 + length
        }
        return parts.joined(separator: ".") + "."
    }
}
