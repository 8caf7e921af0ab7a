import DNSTestSupport
import DNSWire
import NIOCore
import Testing

@Suite struct EditTests {
    @Test func setIDAndReadItBack() throws {
        var buffer = try #require(ByteBuffer(hex: GoldenMessages.knotMulti))
        buffer.setDNSMessageID(0xBEEF)
        #expect(buffer.dnsMessageID == 0xBEEF)
        #expect(try DNSMessageView(buffer).header.id == 0xBEEF)
    }

    @Test func editsRespectTheReaderIndex() throws {
        let message = try #require(ByteBuffer(hex: GoldenMessages.knotMulti))
        var framed = ByteBuffer(bytes: [0xAA, 0xBB])
        framed.writeImmutableBuffer(message)
        framed.moveReaderIndex(forwardBy: 2)
        framed.setDNSMessageID(7)
        let view = try DNSMessageView(framed)
        framed.setDNSTTL(99, of: view.records[3])
        var whole = framed
        whole.moveReaderIndex(to: 0)
        #expect(whole.getBytes(at: 0, length: 2) == [0xAA, 0xBB])
        #expect(try DNSMessageView(framed).header.id == 7)
        #expect(framed.dnsTTL(of: view.records[3]) == 99)
        #expect(framed.dnsTTL(of: view.records[2]) == 3600)
    }

    @Test func restoresTheClientsQuestionSpelling() throws {
        var answer = try #require(ByteBuffer(hex: GoldenMessages.knotMulti))
        let view = try DNSMessageView(answer)
        let clientName = try #require(DNSName("MuLtI.bench.TEST"))
        let restored = answer.restoreDNSQuestionSpelling(clientName, view: view)
        #expect(restored)
        #expect(try DNSMessageView(answer).question?.name.description == "MuLtI.bench.TEST.")
        // Owner names point at the question, so they now read with the client's spelling too.
        #expect(try DNSMessage(answer).answers.first?.name.description == "MuLtI.bench.TEST.")
    }

    @Test func refusesToRestoreADifferentName() throws {
        var answer = try #require(ByteBuffer(hex: GoldenMessages.knotMulti))
        let before = answer.bytes
        let view = try DNSMessageView(answer)
        let restored = answer.restoreDNSQuestionSpelling(try #require(DNSName("other.bench.test")), view: view)
        #expect(!restored)
        #expect(answer.bytes == before)
    }

    @Test func truncationKeepsHeaderQuestionAndOPT() throws {
        let name = try #require(DNSName("big.test"))
        var message = DNSMessage(id: 77, flags: 0x8180, questions: [DNSQuestion(name: name, type: .txt)])
        message.answers = (0..<20).map { _ in .txt(name, [String(repeating: "z", count: 200)], ttl: 60) }
        message.additionals = [.opt(udpPayloadSize: 1232, dnssecOK: true)]
        let buffer = message.encoded()
        let truncated = buffer.dnsTruncated(view: try DNSMessageView(buffer))
        let result = try DNSMessage(truncated)
        #expect(truncated.readableBytes < 512)
        #expect(DNSHeader(truncated)?.isTruncated == true)
        #expect(result.id == 77)
        #expect(result.questions == message.questions)
        #expect(result.answers.isEmpty && result.authorities.isEmpty)
        #expect(result.additionals == [.opt(udpPayloadSize: 1232, dnssecOK: true)])
    }

    @Test func fittingToAUDPSizeKeepsWhatFitsAndCutsTheRest() throws {
        let name = try #require(DNSName("big.example"))
        var message = DNSMessage.query(name, .txt, id: 78)
        message.flags |= DNSHeader.Flag.qr
        message.answers = (0..<20).map { _ in .txt(name, [String(repeating: "z", count: 200)], ttl: 60) }
        let buffer = message.encoded()
        #expect(buffer.dnsFitted(toUDPSize: buffer.readableBytes) == buffer, "exactly the limit fits unchanged")
        let cut = try #require(buffer.dnsFitted(toUDPSize: buffer.readableBytes - 1))
        #expect(DNSHeader(cut)?.isTruncated == true)
        #expect(try DNSMessage(cut).questions == message.questions)
        var garbage = ByteBuffer(bytes: [0x12, 0x34, 0x81, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0x80])  // reserved label type
        garbage.writeRepeatingByte(0, count: 600)
        #expect(garbage.dnsFitted(toUDPSize: 512) == nil, "too long and unreadable: nothing to send")
        #expect(garbage.dnsFitted(toUDPSize: 4096) == garbage, "what fits is not inspected")
    }

    @Test func formErrForAnUnparseableQueryHasNoQuestion() throws {
        let garbage = ByteBuffer(bytes: [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0])
        let reply = try #require(DNSErrorResponse.make(.formErr, to: garbage, view: nil))
        let header = try #require(DNSHeader(reply))
        #expect(header.id == 0x1234)
        #expect(header.isResponse && header.recursionDesired)
        #expect(header.rcodeLow == 1)
        #expect(header.questionCount == 0 && header.additionalCount == 0)
        #expect(DNSErrorResponse.make(.formErr, to: ByteBuffer(bytes: [1, 2, 3]), view: nil) == nil)
    }

    @Test func servFailCarriesTheExtendedErrorWhenTheQueryHadEDNS() throws {
        let query = try #require(ByteBuffer(hex: GoldenMessages.kdigDNSSECQuery))
        let reply = try #require(DNSErrorResponse.make(.servFail, to: query, view: try DNSMessageView(query),
                                                       extendedError: .networkError))
        let message = try DNSMessage(reply)
        let view = try DNSMessageView(reply)
        #expect(view.rcode == .servFail)
        #expect(message.questions.first?.name.description == "example.org.")
        #expect(view.opt?.dnssecOK == true)
        #expect(message.additionals.first?.rdata == [0, 15, 0, 2, 0, 23])
    }

    @Test func badVersUsesTheExtendedRCodeBits() throws {
        let query = try #require(ByteBuffer(hex: GoldenMessages.kdigPlainQuery))
        let reply = try #require(DNSErrorResponse.make(.badVers, to: query, view: try DNSMessageView(query)))
        #expect(try DNSMessageView(reply).rcode == .badVers)
    }
}
