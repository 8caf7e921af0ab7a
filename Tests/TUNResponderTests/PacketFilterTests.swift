import DNSCore
import Synchronization
import Testing
@testable import TUNResponder

/// Keeps a copy of every packet it takes.
final class RecordingSink: PacketSink {
    let packets = Mutex<[[UInt8]]>([])

    func receive(_ packet: UnsafeRawBufferPointer) {
        self.packets.withLock { $0.append(Array(packet)) }
    }
}

@Suite struct PacketFilterTests {
    let responder = RecordingSink()
    let tunnel = RecordingSink()
    let filter: PacketFilter

    init() {
        self.filter = PacketFilter(passThrough: self.tunnel)
        self.filter.add(.host(IPAddress("169.254.53.53")!), sink: self.responder)
        self.filter.add(.host(IPAddress("fd53:7a9c:1e42::53")!), sink: self.responder)
    }

    private func send(_ packet: [UInt8]) {
        packet.withUnsafeBytes { self.filter.receive($0) }
    }

    /// A device with `100.90.128.2/24` and `fdf6:ae92:c3:1::2/64` gets packets for the rest of those prefixes too:
    /// they must reach the tunnel exactly as they came, while the virtual resolver's still reach the responder.
    @Test func packetsToTheDevicePrefixPassThroughUntouched() {
        let toPrefix4 = Packets.ipv4(source: [100, 90, 128, 2], destination: [100, 90, 128, 7],
                                     payload: Packets.udp(source: IPAddress("100.90.128.2")!,
                                                          destination: IPAddress("100.90.128.7")!,
                                                          payload: Array("not for the resolver".utf8)))
        let source6 = IPAddress("fdf6:ae92:c3:1::2")!
        let toPrefix6 = Packets.ipv6(source: source6, destination: IPAddress("fdf6:ae92:c3:1::7")!, next: 17,
                                     payload: Array(repeating: 0xA5, count: 1400))
        let toResolver = Packets.ipv4(source: [100, 90, 128, 2], payload: [1, 2, 3])
        let toResolver6 = Packets.ipv6(source: source6, destination: IPAddress("fd53:7a9c:1e42::53")!, next: 17,
                                       payload: [4, 5, 6])
        for packet in [toPrefix4, toResolver, toPrefix6, toResolver6] { self.send(packet) }

        #expect(self.tunnel.packets.withLock { $0 } == [toPrefix4, toPrefix6])
        #expect(self.responder.packets.withLock { $0 } == [toResolver, toResolver6])
        let counted = self.filter.statistics.snapshot
        #expect(counted.packetsIn == 4 && counted.matched == 2 && counted.passedThrough == 2)
    }

    @Test func aPrefixRuleTakesItsAddressesAndRemovingItGivesThemBack() {
        let other = RecordingSink()
        let prefix = IPPrefix(IPAddress("100.90.128.0")!, length: 24)!
        self.filter.add(prefix, sink: other)
        let packet = Packets.ipv4(destination: [100, 90, 128, 9], payload: [9])
        self.send(packet)
        self.filter.remove(prefix)
        self.send(packet)
        #expect(other.packets.withLock { $0 } == [packet])
        #expect(self.tunnel.packets.withLock { $0 } == [packet])
    }
}
