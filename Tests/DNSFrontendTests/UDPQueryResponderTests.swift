import DNSCore
@testable import DNSFrontend
import DNSTestSupport
import DNSWire
import NIOCore
import NIOEmbedded
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct UDPQueryResponderTests {
    private let client = try! SocketAddress(ipAddress: "127.0.0.1", port: 40_000)

    /// What the client gets for `query`: the immediate reply, or the pipeline's answer run on an embedded loop.
    private func exchange(_ query: ByteBuffer, handler: any DNSHandler = EchoHandler()) throws -> ByteBuffer? {
        let responder = UDPQueryResponder(pipeline: handler, queryTimeout: .seconds(5))
        switch responder.respond(to: query, from: self.client) {
        case .none:
            return nil
        case .reply(let reply):
            return reply
        case .later(let pending):
            let loop = EmbeddedEventLoop()
            var sent = [ByteBuffer]()
            responder.answer(pending, on: loop) { sent.append($0) }
            loop.run()
            #expect(sent.count == 1, "exactly one answer per query")
            return sent.first
        }
    }

    @Test func answersWithoutEDNSAreCutTo512WithTC() throws {
        let reply = try #require(try self.exchange(TestQueries.query("big.test", id: 3), handler: EchoHandler(answerCount: 10)))
        #expect(reply.readableBytes <= 512)
        let view = try DNSMessageView(reply)
        #expect(view.header.isTruncated)
        #expect(view.header.id == 3)
        #expect(view.records.isEmpty)
        #expect(view.question?.name.description == "big.test.")
    }

    @Test func answersRespectTheClientsEDNSPayloadSize() throws {
        let fits = try #require(try self.exchange(TestQueries.query("big.test", id: 4, udpPayloadSize: 4096),
                                                  handler: EchoHandler(answerCount: 10)))
        #expect(!(try DNSMessageView(fits).header.isTruncated))
        #expect(try DNSMessageView(fits).records.count == 10)
        let cut = try #require(try self.exchange(TestQueries.query("big.test", id: 5, udpPayloadSize: 1232),
                                                 handler: EchoHandler(answerCount: 10)))
        #expect(cut.readableBytes <= 1232)
        #expect(try DNSMessageView(cut).header.isTruncated)
        #expect(try DNSMessageView(cut).opt?.udpPayloadSize == 1232)
    }

    @Test func smallAnswersPassUnchanged() throws {
        let reply = try #require(try self.exchange(TestQueries.query("a.test", id: 6), handler: EchoHandler(answerCount: 1)))
        #expect(!(try DNSMessageView(reply).header.isTruncated))
        #expect(try DNSMessageView(reply).records.count == 1)
    }

    @Test func garbageWithAReadableHeaderGetsFormErr() throws {
        let reply = try #require(try self.exchange(ByteBuffer(bytes: [0xAB, 0xCD, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 99, 1])))
        #expect(DNSHeader(reply)?.rcodeLow == 1)
        #expect(DNSHeader(reply)?.id == 0xABCD)
    }

    @Test func shortDatagramsAndResponsesAreDropped() throws {
        #expect(try self.exchange(ByteBuffer(bytes: [1, 2, 3, 4, 5])) == nil)
        var response = TestQueries.query("a.test", id: 1)
        response.setDNSFlags(DNSHeader.Flag.qr)
        #expect(try self.exchange(response) == nil)
    }

    @Test func aFailingPipelineGivesServFail() throws {
        let reply = try #require(try self.exchange(TestQueries.query("a.test", id: 9), handler: FailingHandler()))
        #expect(DNSHeader(reply)?.id == 9)
        #expect(DNSHeader(reply)?.rcodeLow == 2)
    }

    @Test func clientAddressesFromTheKernelKeepAddressAndPort() throws {
        var v4 = sockaddr_in()
        v4.sin_family = sa_family_t(AF_INET)
        v4.sin_port = UInt16(5353).bigEndian
        v4.sin_addr.s_addr = UInt32(0x7F00_0002).bigEndian
        let fromV4 = try #require(withUnsafePointer(to: v4) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { SocketAddress(kernelAddress: $0) }
        })
        #expect(fromV4 == (try SocketAddress(ipAddress: "127.0.0.2", port: 5353)))
        #expect(fromV4.ipAddress == "127.0.0.2")
        let six = try SocketAddress(ipAddress: "fd00::53", port: 853)
        let fromV6 = try #require(six.withSockAddr { address, _ in SocketAddress(kernelAddress: address) })
        #expect(fromV6 == six)
        var storage = sockaddr_storage()
        withUnsafeMutableBytes(of: &storage) { bytes in
            withUnsafeBytes(of: v4) { bytes.copyMemory(from: $0) }
        }
        #expect(SocketAddress(kernelAddress: storage) == fromV4, "from a sockaddr_storage as recvmsg fills it")
        var unix = sockaddr()
        unix.sa_family = sa_family_t(AF_UNIX)
        #expect(SocketAddress(kernelAddress: &unix) == nil)
    }

    @Test func otherOpcodesGetNotImp() throws {
        var notify = TestQueries.query("a.test", id: 8)
        notify.setDNSFlags(UInt16(DNSOpcode.notify.rawValue) << 11)
        let reply = try #require(try self.exchange(notify))
        #expect(DNSHeader(reply)?.rcodeLow == 4)
    }

    @Test func multipleQuestionsGetFormErr() throws {
        var message = DNSMessage.query(DNSName("a.test") ?? .root, .a, id: 2)
        message.questions.append(message.questions[0])
        let reply = try #require(try self.exchange(message.encoded()))
        #expect(DNSHeader(reply)?.rcodeLow == 1)
    }

    @Test func unknownEDNSVersionGetsBadVers() throws {
        var message = DNSMessage.query(DNSName("a.test") ?? .root, .a, id: 2, udpPayloadSize: 1232)
        message.additionals[0].ttl = 0x0001_0000
        let reply = try #require(try self.exchange(message.encoded()))
        #expect(try DNSMessageView(reply).rcode == .badVers)
    }
}
