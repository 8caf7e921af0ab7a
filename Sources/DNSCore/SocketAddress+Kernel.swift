public import NIOCore

#if canImport(Glibc)
public import Glibc
#endif

extension SocketAddress {
    /// An address as the kernel reports it (`recvmsg`, `getsockname`), without the textual host NIO's own
    /// initialisers format with `inet_ntop` (a cost per datagram on a busy socket; `description` still shows the
    /// address); nil for families other than IPv4 and IPv6.
    public init?(kernelAddress address: UnsafePointer<sockaddr>) {
        switch Int32(address.pointee.sa_family) {
        case AF_INET:
            self.init(address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee }, host: "")
        case AF_INET6:
            self.init(address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee }, host: "")
        default:
            return nil
        }
    }

    /// The same, from a `sockaddr_storage` the kernel filled in.
    public init?(kernelAddress storage: sockaddr_storage) {
        guard let address = withUnsafePointer(to: storage, {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { SocketAddress(kernelAddress: $0) }
        }) else { return nil }
        self = address
    }
}
