import DNSTestSupport
import DNSWire
import NIOCore
import Testing

@Suite struct RoundTripTests {
    private static func randomName(_ random: inout SeededRandom) -> DNSName {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_".utf8) + [0x2E, 0x5C, 0x00, 0xFF]
        var wire: [UInt8] = []
        for _ in 0..<Int.random(in: 0...5, using: &random) {
            let length = Int.random(in: 1...20, using: &random)
            wire.append(UInt8(length))
            for _ in 0..<length { wire.append(alphabet.randomElement(using: &random) ?? 0x61) }
        }
        wire.append(0)
        return (try? DNSMessage(ByteBuffer(bytes: [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0] + wire + [0, 1, 0, 1])))?
            .questions.first?.name ?? .root
    }

    private static func randomRecord(_ random: inout SeededRandom) -> DNSRecord {
        // Types without names in RDATA, plus unknown ones, so RDATA is opaque and must survive verbatim.
        let types: [DNSType] = [.a, .aaaa, .txt, DNSType(999), DNSType(65_280), .https]
        let rdata = (0..<Int.random(in: 0...40, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
        return DNSRecord(name: Self.randomName(&random), type: types.randomElement(using: &random) ?? .a,
                         rrclass: DNSClass(UInt16.random(in: 1...300, using: &random)),
                         ttl: UInt32.random(in: 0...UInt32.max, using: &random), rdata: rdata)
    }

    @Test func randomMessagesSurviveEncodeAndDecode() throws {
        var random = SeededRandom(seed: 42)
        for _ in 0..<500 {
            var message = DNSMessage(id: UInt16.random(in: 0...UInt16.max, using: &random),
                                     flags: UInt16.random(in: 0...UInt16.max, using: &random))
            message.questions = (0..<Int.random(in: 0...2, using: &random)).map { _ in
                DNSQuestion(name: Self.randomName(&random), type: DNSType(UInt16.random(in: 0...65535, using: &random)),
                            rrclass: DNSClass(UInt16.random(in: 0...65535, using: &random)))
            }
            message.answers = (0..<Int.random(in: 0...4, using: &random)).map { _ in Self.randomRecord(&random) }
            message.authorities = (0..<Int.random(in: 0...2, using: &random)).map { _ in Self.randomRecord(&random) }
            message.additionals = (0..<Int.random(in: 0...2, using: &random)).map { _ in Self.randomRecord(&random) }
            if Bool.random(using: &random) {
                message.additionals.append(.opt(udpPayloadSize: 1232, dnssecOK: true, options: [0, 10, 0, 2, 1, 2]))
            }
            let decoded = try DNSMessage(message.encoded())
            #expect(decoded == message)
            // Case is kept exactly, even though names compare case-insensitively.
            #expect(decoded.questions.map(\.name.wire) == message.questions.map(\.name.wire))
            #expect(decoded.encoded().bytes == message.encoded().bytes)
        }
    }

    @Test func unknownTypesClassesAndRCodesRoundTrip() throws {
        let name = try #require(DNSName("x.test"))
        var message = DNSMessage(id: 9, flags: 0x8000 | 0x000B)
        message.questions = [DNSQuestion(name: name, type: DNSType(65_534), rrclass: DNSClass(4242))]
        message.answers = [DNSRecord(name: name, type: DNSType(60_000), rrclass: DNSClass(77), ttl: 5, rdata: [1, 2, 3])]
        // Extended RCODE upper bits 0x01 with low bits 0xB: RCODE 27.
        message.additionals = [DNSRecord(name: .root, type: .opt, rrclass: DNSClass(512), ttl: 0x0100_0000, rdata: [])]
        let buffer = message.encoded()
        let view = try DNSMessageView(buffer)
        #expect(view.question?.type.description == "TYPE65534")
        #expect(view.question?.rrclass.description == "CLASS4242")
        #expect(view.rcode == DNSRCode(27))
        #expect(view.rcode.description == "RCODE27")
        #expect(try DNSMessage(buffer) == message)
    }

    @Test(arguments: ["www.example.com.", "a\\.b.example.", "\\000\\255x.test.", "EXAMPLE.org."])
    func presentationFormRoundTrips(text: String) throws {
        let name = try #require(DNSName(text))
        #expect(name.description == text)
        #expect(DNSName(name.description) == name)
    }

    @Test func namesCompareIgnoringCaseButKeepSpelling() throws {
        let upper = try #require(DNSName("WWW.Example.COM"))
        let lower = try #require(DNSName("www.example.com."))
        #expect(upper == lower)
        #expect(upper.hashValue == lower.hashValue)
        #expect(upper.description == "WWW.Example.COM.")
        #expect(upper.wire != lower.wire)
    }

    @Test(arguments: ["a..b", String(repeating: "x", count: 64) + ".test", "\\25"])
    func invalidPresentationNamesAreRejected(text: String) {
        #expect(DNSName(text) == nil)
    }
}
