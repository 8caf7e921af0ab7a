import DNSWire
import NIOCore
import Testing

/// EDNS(0) padding of queries (RFC 7830, RFC 8467 §4.1) and its removal from answers.
@Suite struct PaddingTests {
    private static let clientSubnet: [UInt8] = [0, 8, 0, 7, 0, 1, 24, 0, 192, 0, 2]

    @Test(arguments: ["a.example.", "a-rather-longer-label.with.several.parts.example.",
                      String(repeating: "x", count: 60) + "." + String(repeating: "y", count: 60) + ".example."])
    func queriesArePaddedToWholeBlocksKeepingEverythingElse(name: String) throws {
        let dnsName = try #require(DNSName(name))
        for withOPT in [false, true] {
            var message = DNSMessage.query(dnsName, .aaaa, id: 77, udpPayloadSize: withOPT ? 4096 : nil,
                                           dnssecOK: withOPT)
            if withOPT { message.additionals[0].rdata = Self.clientSubnet }
            let query = message.encoded()
            let padded = query.dnsPadded(toMultipleOf: 128, view: try DNSMessageView(query))
            #expect(padded.readableBytes % 128 == 0, "\(padded.readableBytes) octets")
            let view = try DNSMessageView(padded)
            let opt = try #require(view.opt)
            #expect(padded.dnsHasEDNSOption(12, opt: opt))
            #expect(view.header.id == 77)
            #expect(view.question == DNSQuestion(name: dnsName, type: .aaaa))
            #expect(view.header.additionalCount == 1)
            #expect(opt.udpPayloadSize == (withOPT ? 4096 : 1232))
            #expect(opt.dnssecOK == withOPT)
            #expect(padded.dnsHasEDNSOption(8, opt: opt) == withOPT, "other options are kept")

            // Padding it again replaces the padding rather than adding more.
            let again = padded.dnsPadded(toMultipleOf: 128, view: view)
            #expect(again.readableBytes == padded.readableBytes)
        }
    }

    @Test func paddingIsTakenOutOfAnswersForClientsThatSentNone() throws {
        let name = try #require(DNSName("a.example."))
        var answer = DNSMessage.query(name, .a, id: 5, udpPayloadSize: 1232)
        answer.flags |= DNSHeader.Flag.qr
        answer.answers = [.a(name, (192, 0, 2, 1), ttl: 60)]
        answer.additionals[0].rdata = Self.clientSubnet + [0, 12, 0, 3, 0, 0, 0]
        let buffer = answer.encoded()
        let view = try DNSMessageView(buffer)

        let withOPT = try #require(buffer.dnsWithoutPadding(view: view, keepOPT: true))
        let keptView = try DNSMessageView(withOPT)
        let keptOPT = try #require(keptView.opt)
        #expect(!withOPT.dnsHasEDNSOption(12, opt: keptOPT))
        #expect(withOPT.dnsHasEDNSOption(8, opt: keptOPT))
        #expect(keptView.records.count == 1)
        #expect(try DNSMessage(withOPT).answers == answer.answers)

        let withoutOPT = try #require(buffer.dnsWithoutPadding(view: view, keepOPT: false))
        let bareView = try DNSMessageView(withoutOPT)
        #expect(bareView.opt == nil)
        #expect(bareView.header.additionalCount == 0)
        #expect(try DNSMessage(withoutOPT).answers == answer.answers)

        // Nothing to take out: no copy.
        #expect(withOPT.dnsWithoutPadding(view: keptView, keepOPT: true) == nil)
    }
}
