import DNSCore
import DNSTestSupport
import DNSWire
import FakeIP
import NIOCore
import NIOEmbedded
import Testing

@Suite struct FakeIPMiddlewareTests {
    let loop = EmbeddedEventLoop()
    let upstream = HeldHandler()

    func middleware(ipv6: Bool = false, resolveFirst: Bool = true, exclude: [String] = []) throws -> FakeIPMiddleware {
        let pool4 = FakeIPPool(range: try testRange("198.18.0.0/15"))
        let pool6 = ipv6 ? FakeIPPool(range: try testRange("fd00:fa4e::/64")) : nil
        return FakeIPMiddleware(pool4: pool4, pool6: pool6, settings: .init(
            ttl: 60, exclude: exclude.compactMap(DomainPattern.init), resolveFirst: resolveFirst), clock: { 1000 })
    }

    func request(_ name: String, _ type: DNSType = .a, id: UInt16 = 1) -> DNSRequest {
        let message = DNSMessage.query(DNSName(name) ?? .root, type, id: id, udpPayloadSize: 1232).encoded()
        let view = try! DNSMessageView(message)
        return DNSRequest(message: message, view: view, metadata: .init(client: nil, transport: .udp),
                          deadline: .now() + .seconds(5))!
    }

    func ask(_ middleware: FakeIPMiddleware, _ request: DNSRequest) -> EventLoopFuture<DNSResponse> {
        middleware.handle(request, eventLoop: self.loop, next: self.upstream)
    }

    /// Completes the held upstream query with `rcode`.
    func upstreamAnswers(rcode: UInt16) {
        self.upstream.complete { request in
            let message = DNSMessage(id: request.id, flags: DNSHeader.Flag.qr | rcode, questions: [request.question])
            return DNSResponse(message: message.encoded())
        }
    }

    @Test func existingNamesGetAFakeAddressAndMissingNamesKeepTheirNXDOMAIN() throws {
        let middleware = try self.middleware()
        let future = self.ask(middleware, self.request("www.example.org", id: 7))
        #expect(self.upstream.held.first?.request.question.type == .a, "resolved first")
        self.upstreamAnswers(rcode: 0)
        let answer = try DNSMessage(try future.wait().message)
        #expect(answer.id == 7 && answer.answers.count == 1)
        #expect(answer.answers.first?.rdata == [198, 18, 0, 1] && answer.answers.first?.ttl == 60)
        #expect(answer.additionals.map(\.type) == [.opt])
        // Known now: answered at once, same address, whatever the case.
        guard case .answer(let again) = middleware.immediateOutcome(for: self.request("WWW.example.ORG", id: 8)) else {
            Issue.record("a known name is answered without waiting")
            return
        }
        #expect(try DNSMessage(again.message).answers.first?.rdata == [198, 18, 0, 1])

        let missing = self.ask(middleware, self.request("nothing.example.org"))
        self.upstreamAnswers(rcode: 3)
        #expect(DNSHeader(try missing.wait().message)?.rcodeLow == 3)
        #expect(!middleware.pool4.contains("nothing.example.org."))
    }

    @Test func withoutResolvingFirstAddressesAreHandedOutAtOnce() throws {
        let middleware = try self.middleware(resolveFirst: false)
        guard case .answer(let response) = middleware.immediateOutcome(for: self.request("remote.example")) else {
            Issue.record("answered without asking")
            return
        }
        #expect(try DNSMessage(response.message).answers.count == 1)
    }

    @Test func aaaaIsNoDataWithoutAnIPv6RangeAndFakeWithOne() throws {
        guard case .answer(let nodata) = try self.middleware().immediateOutcome(for: self.request("x.example", .aaaa))
        else {
            Issue.record("AAAA without a range is answered locally")
            return
        }
        let message = try DNSMessage(nodata.message)
        #expect(message.flags & 0xF == 0 && message.answers.isEmpty)

        let dual = try self.middleware(ipv6: true, resolveFirst: false)
        guard case .answer(let v6) = dual.immediateOutcome(for: self.request("x.example", .aaaa)) else {
            Issue.record("AAAA with a range gets a fake address")
            return
        }
        #expect(try DNSMessage(v6.message).answers.first?.rdata.count == 16)
    }

    @Test func ptrForAFakeAddressReturnsItsNameAndOtherQueriesPass() throws {
        let middleware = try self.middleware(resolveFirst: false, exclude: ["local.lan"])
        _ = middleware.immediateOutcome(for: self.request("named.example"))
        guard case .answer(let ptr) = middleware.immediateOutcome(for: self.request("1.0.18.198.in-addr.arpa", .ptr))
        else {
            Issue.record("PTR of a fake address is answered")
            return
        }
        #expect(try DNSMessage(ptr.message).answers.first?.rdata == DNSName("named.example")?.wire)
        guard case .answer(let unknown) = middleware.immediateOutcome(for: self.request("9.9.18.198.in-addr.arpa", .ptr))
        else {
            Issue.record("PTR of an unused fake address is NXDOMAIN")
            return
        }
        #expect(DNSHeader(unknown.message)?.rcodeLow == 3)
        for passing in [self.request("1.2.0.192.in-addr.arpa", .ptr), self.request("named.example", .mx),
                        self.request("printer.local.lan")] {
            guard case .pass = middleware.immediateOutcome(for: passing) else {
                Issue.record("\(passing.question) passes through")
                continue
            }
        }
    }
}
