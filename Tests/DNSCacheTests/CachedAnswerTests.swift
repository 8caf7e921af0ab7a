@testable import DNSCache
import DNSWire
import Testing
import DNSCore

@Suite struct CachedAnswerTests {
    /// The shard trusts a digest only after this check, so it must tell every other question apart.
    @Test func answersOnlyItsOwnQuestionIgnoringCase() throws {
        let request = CacheFixtures.request("abc.example")
        let (message, view) = CacheFixtures.answer(to: request, answers: [CacheFixtures.a("abc.example", ttl: 60)])
        let answer = try #require(CachedAnswer(message: message, view: view, policy: CachePolicy()))
        func key(_ name: String, _ type: DNSType = .a, rrclass: UInt16 = 1) -> CacheKey {
            CacheKey(name: DNSName(name) ?? .root, type: type.rawValue, rrclass: rrclass, dnssecOK: false,
                     checkingDisabled: false)
        }
        #expect(answer.answers(key("abc.example")))
        #expect(answer.answers(key("ABC.Example.")))
        #expect(!answer.answers(key("abd.example")))
        #expect(!answer.answers(key("abc.example.org")))
        #expect(!answer.answers(key("ab.example")))
        #expect(!answer.answers(key("abc.example", .aaaa)))
        #expect(!answer.answers(key("abc.example", rrclass: 3)))
        #expect(Array(answer.ttlOffsets).count == 1)

        // "`" (0x60) and "@" (0x40) differ only in bit 0x20 but are not letters: different names.
        let backtick = CacheFixtures.request("\\096bc.example")
        let (other, otherView) = CacheFixtures.answer(to: backtick, answers: [CacheFixtures.a("\\096bc.example", ttl: 60)])
        let otherAnswer = try #require(CachedAnswer(message: other, view: otherView, policy: CachePolicy()))
        #expect(otherAnswer.answers(key("\\096bc.example")))
        #expect(!otherAnswer.answers(key("\\064bc.example")))
    }
}
