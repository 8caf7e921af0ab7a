import DNSCore
@testable import TUNResponder
import Testing

/// Builds test packets by hand, independently of PacketBuilder, so the two check each other.
enum Packets {
    static func ipv4(source: [UInt8] = [10, 0, 0, 2], destination: [UInt8] = [169, 254, 53, 53], protocol: UInt8 = 17,
                     options: [UInt8] = [], id: UInt16 = 7, flagsAndOffset: UInt16 = 0, payload: [UInt8]) -> [UInt8] {
        let headerLength = 20 + options.count
        var header: [UInt8] = [0x40 | UInt8(headerLength / 4), 0]
        header.appendBigEndian(UInt16(headerLength + payload.count))
        header.appendBigEndian(id)
        header.appendBigEndian(flagsAndOffset)
        header += [64, `protocol`, 0, 0] + source + destination + options
        var checksum = InternetChecksum()
        checksum.add(header)
        header[10] = UInt8(checksum.value >> 8)
        header[11] = UInt8(checksum.value & 0xFF)
        return header + payload
    }

    static func ipv6(source: IPAddress, destination: IPAddress, next: UInt8, extensions: [UInt8] = [],
                     payload: [UInt8]) -> [UInt8] {
        var packet: [UInt8] = [0x60, 0, 0, 0]
        packet.appendBigEndian(UInt16(extensions.count + payload.count))
        packet += [next, 64] + source.bytes + destination.bytes + extensions
        return packet + payload
    }

    /// A UDP datagram with a correct checksum (or `checksum` when given).
    static func udp(source: IPAddress, destination: IPAddress, sourcePort: UInt16 = 40000, destinationPort: UInt16 = 53,
                    payload: [UInt8], checksum forced: UInt16? = nil) -> [UInt8] {
        var datagram: [UInt8] = []
        datagram.appendBigEndian(sourcePort)
        datagram.appendBigEndian(destinationPort)
        datagram.appendBigEndian(UInt16(8 + payload.count))
        datagram.appendBigEndian(UInt16(0))
        datagram += payload
        var checksum = InternetChecksum()
        checksum.addPseudoHeader(source: source, destination: destination, protocol: 17, length: datagram.count)
        checksum.add(datagram)
        let value = forced ?? checksum.value
        datagram[6] = UInt8(value >> 8)
        datagram[7] = UInt8(value & 0xFF)
        return datagram
    }
}

@Suite struct PacketCodecTests {
    @Test func checksumMatchesKnownVectors() {
        // RFC 1071 §3's example words.
        var example = InternetChecksum()
        example.add([0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7])
        #expect(example.value == ~UInt16(0xDDF2))
        // A captured IPv4 header whose checksum field holds 0xB861.
        let header: [UInt8] = [0x45, 0, 0, 0x73, 0, 0, 0x40, 0, 0x40, 0x11, 0, 0, 0xC0, 0xA8, 0, 1, 0xC0, 0xA8, 0, 0xC7]
        var captured = InternetChecksum()
        captured.add(header)
        #expect(captured.value == 0xB861)
        // Odd length: the last byte is padded with zero.
        var odd = InternetChecksum()
        odd.add([0x12, 0x34, 0x56])
        #expect(odd.value == ~UInt16(0x1234 + 0x5600))
    }

    @Test func addressesAndPrefixes() throws {
        #expect(IPAddress("169.254.53.53") == .v4(0xA9FE_3535))
        #expect(IPAddress("fd53:7a9c:1e42::53")?.description == "fd53:7a9c:1e42::53")
        #expect(IPAddress("not an address") == nil)
        let prefix = try #require(IPPrefix("10.1.2.3/8"))
        #expect(prefix.description == "10.0.0.0/8")
        #expect(prefix.contains(.v4(0x0A00_0001)) && !prefix.contains(.v4(0x0B00_0001)))
        let v6 = try #require(IPPrefix("2001:db8::/32"))
        #expect(v6.contains(try #require(IPAddress("2001:db8:ffff::1"))))
        #expect(!v6.contains(try #require(IPAddress("2001:db9::1"))))
        #expect(IPPrefix("10.0.0.0/33") == nil)
    }

    @Test func ipv4WithOptionsIsParsedPastTheOptions() throws {
        let payload: [UInt8] = [1, 2, 3, 4]
        let packet = Packets.ipv4(options: [1, 1, 1, 0], payload: payload)  // NOPs and end of options
        let parsed = try packet.withUnsafeBytes { try IPPacket($0) }
        #expect(parsed.payloadOffset == 24 && parsed.payloadLength == 4)
        #expect(parsed.destination == IPAddress("169.254.53.53"))
        #expect(parsed.fragment == nil)
        #expect(packet.withUnsafeBytes { IPPacket.destination(in: $0) } == IPAddress("169.254.53.53"))
    }

    @Test func ipv6ExtensionHeadersAreSkipped() throws {
        let source = try #require(IPAddress("fd00::2"))
        let destination = try #require(IPAddress("fd53:7a9c:1e42::53"))
        // Hop-by-hop (8 bytes, PadN) then destination options (8 bytes), then UDP.
        let extensions: [UInt8] = [60, 0, 1, 4, 0, 0, 0, 0] + [17, 0, 1, 4, 0, 0, 0, 0]
        let udp = Packets.udp(source: source, destination: destination, payload: [9, 9])
        let packet = Packets.ipv6(source: source, destination: destination, next: 0, extensions: extensions, payload: udp)
        let parsed = try packet.withUnsafeBytes { try IPPacket($0) }
        #expect(parsed.nextProtocol == 17)
        #expect(parsed.payloadOffset == 56 && parsed.payloadLength == udp.count)
    }

    @Test(arguments: [
        ([UInt8](), PacketDropReason.malformed),
        ([0x45, 0, 0, 20], .malformed),  // shorter than its header
        ([0x75] + [UInt8](repeating: 0, count: 19), .unsupported),  // version 7
    ])
    func brokenPacketsAreDroppedWithAReason(bytes: [UInt8], reason: PacketDropReason) {
        #expect(throws: reason) { try bytes.withUnsafeBytes { _ = try IPPacket($0) } }
    }

    @Test func corruptedHeaderChecksumAndTruncatedPacketsAreRejected() {
        var packet = Packets.ipv4(payload: [1, 2, 3, 4])
        packet[8] = 1  // TTL changed after the checksum was computed
        #expect(throws: PacketDropReason.badChecksum) { try packet.withUnsafeBytes { _ = try IPPacket($0) } }
        let truncated = Array(Packets.ipv4(payload: [1, 2, 3, 4]).dropLast())
        #expect(throws: PacketDropReason.malformed) { try truncated.withUnsafeBytes { _ = try IPPacket($0) } }
    }

    /// Fragments are at most the MTU, carry multiples of 8 bytes but the last, and reassemble to the original.
    @Test(arguments: [576, 1280, 1500])
    func repliesLargerThanTheMTUAreFragmentedAndReassembleExactly(mtu: Int) throws {
        var builder = PacketBuilder(mtu: mtu, firstIdentification: 41)
        let payload = (0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        for (source, destination) in [(IPAddress("169.254.53.53"), IPAddress("10.0.0.2")),
                                      (IPAddress("fd53::53"), IPAddress("fd00::2"))] {
            let source = try #require(source)
            let destination = try #require(destination)
            let packets = payload.withUnsafeBytes {
                builder.udp(from: source, port: 53, to: destination, port: 40000, payload: $0)
            }
            #expect(packets.count > 1)
            var reassembler = FragmentReassembler()
            var whole: [UInt8]?
            var identifications = Set<UInt32>()
            for packet in packets {
                #expect(packet.count <= mtu)
                let parsed = try packet.withUnsafeBytes { try IPPacket($0) }
                let fragment = try #require(parsed.fragment)
                identifications.insert(fragment.identification)
                #expect(fragment.offset % 8 == 0)
                packet.withUnsafeBytes { bytes in
                    let data = UnsafeRawBufferPointer(rebasing: bytes[parsed.payloadOffset...])
                    if case .complete(let datagram) = reassembler.add(data, of: parsed, fragment: fragment, now: 0) {
                        whole = datagram
                    }
                }
            }
            #expect(identifications.count == 1)
            let datagram = try #require(whole)
            #expect(Array(datagram[8...]) == payload)
            var verify = InternetChecksum()
            verify.addPseudoHeader(source: source, destination: destination, protocol: 17, length: datagram.count)
            verify.add(datagram)
            #expect(verify.value == 0, "the UDP checksum covers the whole datagram")
        }
    }

    @Test func aReplyOfExactlyTheMTUIsOnePacketAndEachReplyGetsAFreshID() throws {
        var builder = PacketBuilder(mtu: 1280, firstIdentification: 1)
        let source = try #require(IPAddress("169.254.53.53"))
        let destination = try #require(IPAddress("10.0.0.2"))
        let exact = [UInt8](repeating: 1, count: 1280 - 28)
        let first = exact.withUnsafeBytes { builder.udp(from: source, port: 53, to: destination, port: 1, payload: $0) }
        let second = exact.withUnsafeBytes { builder.udp(from: source, port: 53, to: destination, port: 1, payload: $0) }
        #expect(first.count == 1 && first[0].count == 1280)
        #expect(first[0][4...5] != second[0][4...5])
    }

    @Test func reassemblyRejectsOverlapsAndIsBounded() throws {
        var reassembler = FragmentReassembler(maxEntries: 2, lifetime: 1_000)
        let packet = try Packets.ipv4(flagsAndOffset: 0x2000, payload: [UInt8](repeating: 0, count: 16))
            .withUnsafeBytes { try IPPacket($0) }
        let sixteen = [UInt8](repeating: 1, count: 16)
        func add(id: UInt32, offset: Int, more: Bool, now: Int64 = 0) -> FragmentReassembler.Outcome {
            sixteen.withUnsafeBytes {
                reassembler.add($0, of: packet, fragment: .init(identification: id, offset: offset, moreFragments: more),
                                now: now)
            }
        }
        guard case .waiting = add(id: 1, offset: 0, more: true) else { Issue.record("first fragment kept"); return }
        guard case .dropped(.malformed) = add(id: 1, offset: 8, more: false) else {
            Issue.record("an overlapping fragment spoils the datagram")
            return
        }
        #expect(reassembler.pending == 0)
        _ = add(id: 2, offset: 0, more: true)
        _ = add(id: 3, offset: 0, more: true)
        guard case .dropped(.fragmentTable) = add(id: 4, offset: 0, more: true) else {
            Issue.record("the table is bounded")
            return
        }
        // Time passes: old partial datagrams expire and make room.
        guard case .waiting = add(id: 4, offset: 0, more: true, now: 2_000) else {
            Issue.record("expired entries make room")
            return
        }
        #expect(reassembler.pending == 1)
    }
}
