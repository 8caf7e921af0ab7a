public import NIOCore

#if canImport(Glibc)
import Glibc
#endif

extension IPAddress {
    /// The address of `socketAddress` without going through text; an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`,
    /// what a dual-stack socket reports for IPv4 clients) becomes the IPv4 address. Nil for Unix sockets.
    public init?(_ socketAddress: SocketAddress) {
        // sockaddr_in keeps the address at offset 4, sockaddr_in6 at offset 8 (after family, port, flow label).
        let value: IPAddress? = socketAddress.withSockAddr { pointer, length in
            let bytes = UnsafeRawBufferPointer(start: UnsafeRawPointer(pointer), count: length)
            switch Int32(pointer.pointee.sa_family) {
            case AF_INET where length >= 8: return IPAddress.load(bytes, at: 4, length: 4)
            case AF_INET6 where length >= 24: return IPAddress.load(bytes, at: 8, length: 16)
            default: return nil
            }
        }
        guard let value else { return nil }
        if case .v6(let bits) = value, bits >> 32 == 0xFFFF {
            self = .v4(UInt32(truncatingIfNeeded: bits))
        } else {
            self = value
        }
    }
}
