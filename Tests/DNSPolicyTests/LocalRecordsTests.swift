import DNSCore
import DNSTestSupport
import DNSWire
import NIOCore
import Testing

@testable import DNSPolicy

@Suite struct LocalRecordsTests {
    private func records(_ lines: [String], hosts: String = "") throws -> LocalRecords {
        var records = LocalRecords()
        for line in lines {
            let (name, record) = try LocalRecordParser.record(line, defaultTTL: 300)
            records.add(record, for: name)
        }
        for line in hosts.split(separator: "\n") {
            for (name, record) in try LocalRecordParser.hostsLine(line, ttl: 300) { records.add(record, for: name) }
        }
        records.addReverseRecords()
        return records
    }

    private func answer(_ records: LocalRecords, _ name: String, _ type: DNSType) throws -> DNSMessage {
        let pipeline = DNSPipeline(middlewares: [LocalRecordsMiddleware(records: records)], terminal: EchoHandler())
        let response = try #require(pipeline.begin(PolicyFixtures.request(name, type)).answer)
        return PolicyFixtures.decoded(response)
    }

    @Test func recordsOfEveryTypeAreAnsweredWithAuthority() throws {
        let local = try records([
            "printer.lan A 192.168.1.20", "printer.lan 60 AAAA fd00::20", "www.lan CNAME printer.lan",
            "lan MX 10 mail.lan", "_ipp._tcp.lan SRV 0 5 631 printer.lan", "info.lan TXT \"hello world\"",
        ])
        let a = try answer(local, "Printer.LAN", .a)
        #expect(a.header.flags & DNSHeader.Flag.aa != 0)
        #expect(a.answers.map(\.rdata) == [[192, 168, 1, 20]])
        #expect(a.answers.first?.ttl == 300)
        #expect(try answer(local, "printer.lan", .aaaa).answers.first?.ttl == 60)
        let chased = try answer(local, "www.lan", .a)
        #expect(chased.answers.map(\.type) == [.cname, .a])
        #expect(chased.answers.last?.name == DNSName("printer.lan"))
        #expect(try answer(local, "lan", .mx).answers.first?.rdata == [0, 10] + DNSName("mail.lan")!.wire)
        #expect(try answer(local, "_ipp._tcp.lan", .srv).answers.first?.rdata.prefix(6) == [0, 0, 0, 5, 2, 119])
        #expect(try answer(local, "info.lan", .txt).answers.first?.rdata == [11] + Array("hello world".utf8))
        let noData = try answer(local, "printer.lan", .txt)
        #expect(noData.header.rcodeLow == 0 && noData.answers.isEmpty && noData.header.flags & DNSHeader.Flag.aa != 0)
        // `_tcp.lan` exists only as the parent of a local name: NODATA, not a forwarded query.
        #expect(try answer(local, "_tcp.lan", .a).answers.isEmpty)
        let pipeline = DNSPipeline(middlewares: [LocalRecordsMiddleware(records: local)], terminal: EchoHandler())
        #expect(pipeline.begin(PolicyFixtures.request("other.example", .a)).answer == nil)
    }

    @Test func reverseAnswersComeFromAddressesAndHostsFiles() throws {
        let local = try records(["nas.lan A 192.168.1.30"], hosts: "# hosts\n192.168.1.40 tv.lan tv\nfd00::40 tv.lan\n")
        #expect(try answer(local, "30.1.168.192.in-addr.arpa", .ptr).answers.first?.rdata == DNSName("nas.lan")!.wire)
        #expect(try answer(local, "40.1.168.192.in-addr.arpa", .ptr).answers.first?.rdata == DNSName("tv.lan")!.wire)
        let six = IPAddress("fd00::40")!.reverseName
        #expect(try answer(local, six, .ptr).answers.first?.rdata == DNSName("tv.lan")!.wire)
        #expect(try answer(local, "tv", .a).answers.first?.rdata == [192, 168, 1, 40])
    }

    @Test func badLinesSayWhatIsWrong() {
        #expect(throws: LocalRecordParser.Problem.self) { try LocalRecordParser.record("x.lan A 1.2.3", defaultTTL: 1) }
        #expect(throws: LocalRecordParser.Problem.self) { try LocalRecordParser.record("x.lan AAAA 1.2.3.4", defaultTTL: 1) }
        #expect(throws: LocalRecordParser.Problem.self) { try LocalRecordParser.record("x.lan NS ns.lan", defaultTTL: 1) }
        #expect(throws: LocalRecordParser.Problem.self) { try LocalRecordParser.record("x.lan MX mail", defaultTTL: 1) }
        #expect(throws: LocalRecordParser.Problem.self) { try LocalRecordParser.hostsLine("nonsense name", ttl: 1) }
    }
}
