import DNSCache
import DNSCore
import DNSWire
import NIOConcurrencyHelpers
import NIOCore

/// A clock the test moves by hand, in nanoseconds.
final class ManualClock: Sendable {
    private let nanoseconds = NIOLockedValueBox<Int64>(1_000_000_000_000)

    var now: Int64 { self.nanoseconds.withLockedValue { $0 } }

    func advance(seconds: Double) {
        self.nanoseconds.withLockedValue { $0 += Int64(seconds * 1e9) }
    }

    var function: @Sendable () -> Int64 { { self.now } }
}

enum CacheFixtures {
    static func request(_ name: String, _ type: DNSType = .a, id: UInt16 = 1, udpPayloadSize: UInt16? = nil,
                        dnssecOK: Bool = false, checkingDisabled: Bool = false, options: [UInt8] = []) -> DNSRequest {
        var message = DNSMessage.query(DNSName(name) ?? .root, type, id: id, udpPayloadSize: udpPayloadSize,
                                       dnssecOK: dnssecOK)
        if checkingDisabled { message.flags |= DNSHeader.Flag.cd }
        if !options.isEmpty, !message.additionals.isEmpty { message.additionals[0].rdata = options }
        let buffer = message.encoded()
        // Test inputs are well-formed, so both steps succeed.
        let view = try! DNSMessageView(buffer)
        return DNSRequest(message: buffer, view: view, metadata: DNSRequestMetadata(client: nil, transport: .udp),
                          deadline: .now() + .seconds(5))!
    }

    /// An upstream answer to `request` with the given records.
    static func answer(to request: DNSRequest, rcode: UInt8 = 0, answers: [DNSRecord] = [],
                       authorities: [DNSRecord] = [], optOptions: [UInt8]? = nil, truncated: Bool = false)
        -> (ByteBuffer, DNSMessageView)
    {
        var message = DNSMessage(id: 999, flags: DNSHeader.Flag.qr | DNSHeader.Flag.rd | DNSHeader.Flag.ra | UInt16(rcode),
                                 questions: [request.question], answers: answers, authorities: authorities)
        if truncated { message.flags |= DNSHeader.Flag.tc }
        if let optOptions { message.additionals = [.opt(udpPayloadSize: 1232, options: optOptions)] }
        let buffer = message.encoded()
        return (buffer, try! DNSMessageView(buffer))
    }

    static func soa(_ zone: String, ttl: UInt32, minimum: UInt32) -> DNSRecord {
        let zoneName = DNSName(zone) ?? .root
        let mname = DNSName("ns." + zone) ?? .root
        let rname = DNSName("hostmaster." + zone) ?? .root
        var rdata = mname.wire + rname.wire
        for value in [UInt32(1), 3600, 600, 86400, minimum] {
            rdata += [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
        }
        return DNSRecord(name: zoneName, type: .soa, ttl: ttl, rdata: rdata)
    }

    static func a(_ name: String, ttl: UInt32, last: UInt8 = 1) -> DNSRecord {
        .a(DNSName(name) ?? .root, (192, 0, 2, last), ttl: ttl)
    }
}
