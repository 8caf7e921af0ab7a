import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Sends UDP datagrams to 127.0.0.1 from made-up source addresses across 127.0.0.0/8, through a raw socket (root
/// only): a flood of distinct spoofed sources that never leaves loopback.
final class SpoofedSources {
    private let descriptor: Int32

    /// Nil when the kernel refuses a raw socket (not root).
    init?() {
        let descriptor = socket(AF_INET, Int32(SOCK_RAW.rawValue), Int32(IPPROTO_RAW))
        guard descriptor >= 0 else { return nil }
        self.descriptor = descriptor
    }

    deinit { close(self.descriptor) }

    /// Sends `payload` to 127.0.0.1:`port` once from each of `count` sources 127.x.y.z (x, y, z from the index, so
    /// every source differs); returns how many the kernel took.
    func send(_ payload: [UInt8], to port: UInt16, sources count: Int) -> Int {
        let length = 28 + payload.count
        var packet = [UInt8](repeating: 0, count: length)
        // IPv4 header: version 4, IHL 5, total length, TTL 64, protocol UDP; the kernel fills in the checksum.
        packet[0] = 0x45
        packet[2] = UInt8(length >> 8)
        packet[3] = UInt8(length & 0xFF)
        packet[8] = 64
        packet[9] = UInt8(IPPROTO_UDP)
        packet[16...19] = [127, 0, 0, 1]
        // UDP header: source port 40000, destination, length, no checksum (allowed over IPv4).
        packet[20] = 0x9C
        packet[21] = 0x40
        packet[22] = UInt8(port >> 8)
        packet[23] = UInt8(port & 0xFF)
        packet[24] = UInt8((8 + payload.count) >> 8)
        packet[25] = UInt8((8 + payload.count) & 0xFF)
        packet[28...] = payload[...]
        var destination = sockaddr_in()
        destination.sin_family = sa_family_t(AF_INET)
        destination.sin_addr.s_addr = inet_addr("127.0.0.1")
        var sent = 0
        for index in 0..<count {
            // 127.0.0.1 itself is skipped: sources start at 127.0.0.2.
            let source = UInt32(index + 2)
            packet[12] = 127
            packet[13] = UInt8((source >> 16) & 0xFF)
            packet[14] = UInt8((source >> 8) & 0xFF)
            packet[15] = UInt8(source & 0xFF)
            let result = packet.withUnsafeBytes { bytes in
                withUnsafePointer(to: &destination) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(self.descriptor, bytes.baseAddress, bytes.count, 0, $0,
                               socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
            }
            if result == length { sent += 1 }
        }
        return sent
    }
}
