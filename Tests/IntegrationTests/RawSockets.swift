import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Plain POSIX sockets to 127.0.0.1, for sending what no well-behaved client would.
final class LoopbackSocket {
    let descriptor: Int32

    /// A UDP socket, or a TCP socket connected to `port`.
    init(tcp: Bool, port: Int) throws {
        self.descriptor = socket(AF_INET, Int32(tcp ? SOCK_STREAM.rawValue : SOCK_DGRAM.rawValue), 0)
        guard self.descriptor >= 0 else { throw SetupError("socket() failed") }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(self.descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = Self.address(port: port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(self.descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else { throw SetupError("connect() to port \(port) failed: errno \(errno)") }
    }

    deinit { close(self.descriptor) }

    private static func address(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    @discardableResult
    func send(_ bytes: [UInt8]) -> Int {
        bytes.withUnsafeBytes { Glibc.send(self.descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Reads up to `count` bytes, or nil on timeout/close.
    func receive(_ count: Int = 65_536) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: count)
        let read = buffer.withUnsafeMutableBytes { recv(self.descriptor, $0.baseAddress, count, 0) }
        return read > 0 ? Array(buffer[..<read]) : nil
    }

    /// Reads exactly `count` bytes from a stream, or nil.
    func receiveExactly(_ count: Int) -> [UInt8]? {
        var result: [UInt8] = []
        while result.count < count {
            guard let chunk = self.receive(count - result.count) else { return nil }
            result += chunk
        }
        return result
    }
}

enum WireQueries {
    /// A minimal query for `name` A with ID `id` (RD set, no EDNS).
    static func query(_ name: String, id: UInt16) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in name.split(separator: ".") {
            bytes.append(UInt8(label.utf8.count))
            bytes += Array(label.utf8)
        }
        return bytes + [0, 0, 1, 0, 1]
    }
}
