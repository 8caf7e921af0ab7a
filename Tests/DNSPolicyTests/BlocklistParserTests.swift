import DNSWire
import Testing

@testable import DNSPolicy

@Suite struct BlocklistParserTests {
    private func rules(_ text: String) -> BlocklistParser.Result {
        BlocklistParser.parse(Array(text.utf8))
    }

    private func verdict(_ result: BlocklistParser.Result, _ name: String) -> DomainRules.Verdict {
        result.rules.verdict(for: DNSName(name)!)
    }

    @Test func hostsFileEntriesBlockExactlyTheirNames() {
        let result = rules("""
            # a hosts file
            127.0.0.1 localhost
            ::1 ip6-localhost
            0.0.0.0 ads.example tracker.example   # two names
            0.0.0.0\tTAB.example\r
            """)
        #expect(result.problemCount == 0)
        #expect(result.entries == 3)
        #expect(verdict(result, "ads.example") == .blocked)
        #expect(verdict(result, "TRACKER.example.") == .blocked)
        #expect(verdict(result, "tab.example") == .blocked)
        #expect(verdict(result, "sub.ads.example") == .unlisted)
        #expect(verdict(result, "localhost") == .unlisted)
    }

    @Test func plainWildcardAndAdblockRulesMatchTheirScope() {
        let result = rules("""
            ! Adblock comment
            [Adblock Plus 2.0]
            plain.example
            *.wild.example
            ||suffix.example^
            ||important.example^$important
            @@||ok.suffix.example^
            trailing.example.
            """)
        #expect(result.problemCount == 0)
        #expect(verdict(result, "plain.example") == .blocked)
        #expect(verdict(result, "www.plain.example") == .unlisted)
        #expect(verdict(result, "wild.example") == .unlisted)
        #expect(verdict(result, "a.b.wild.example") == .blocked)
        #expect(verdict(result, "suffix.example") == .blocked)
        #expect(verdict(result, "deep.x.suffix.example") == .blocked)
        #expect(verdict(result, "ok.suffix.example") == .allowed)
        #expect(verdict(result, "a.ok.suffix.example") == .allowed)
        #expect(verdict(result, "important.example") == .blocked)
        #expect(verdict(result, "trailing.example") == .blocked)
        #expect(verdict(result, "example") == .unlisted)
    }

    @Test func unicodeNamesMatchTheirPunycode() {
        let result = rules("bücher.example\n||MÜNCHEN.example^\n")
        #expect(result.problemCount == 0)
        #expect(verdict(result, "xn--bcher-kva.example") == .blocked)
        #expect(verdict(result, "www.xn--mnchen-3ya.example") == .blocked)
        #expect(Punycode.asciiLabel("bücher") == "xn--bcher-kva")
        #expect(Punycode.asciiLabel("例え") == "xn--r8jz45g")
    }

    @Test func invalidLinesAreReportedWithTheirNumbers() {
        let result = rules("""
            good.example
            bad..example
            0.0.0.0
            300.1.1.1 x.example
            two names.example
            ||mod.example^$third-party
            way-too-long-\(String(repeating: "x", count: 60)).example
            after.example
            """)
        #expect(result.entries == 2)
        #expect(result.problems.map(\.line) == [2, 3, 4, 5, 6, 7])
        #expect(result.problems[0].text == "bad..example")
        #expect(result.problems[4].reason.contains("third-party"))
        #expect(verdict(result, "after.example") == .blocked)
    }

    @Test func everyEntryOfALargeListIsKept() {
        var text = [UInt8]()
        for index in 0..<50_000 { text += Array("0.0.0.0 h\(index).blocked.test\n".utf8) }
        let result = BlocklistParser.parse(text)
        #expect(result.entries == 50_000)
        #expect(result.rules.count == 50_000)
        #expect(verdict(result, "h49999.blocked.test") == .blocked)
        #expect(verdict(result, "h50000.blocked.test") == .unlisted)
    }
}
