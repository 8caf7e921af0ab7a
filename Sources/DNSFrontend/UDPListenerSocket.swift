import CLinuxNet
import DNSCore
import NIOConcurrencyHelpers
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// A blocking UDP socket bound with `SO_REUSEPORT`, read by one thread in batches, written by that thread in
/// batches and by event loops one answer at a time. Closing waits for nobody: callers stop the reader first, and
/// late answers find the descriptor gone instead of a reused number.
final class UDPListenerSocket: Sendable {
    /// How long a blocked read waits before the reader looks at its stop flag again.
    private static let receiveTimeout = timeval(tv_sec: 0, tv_usec: 250_000)

    private let descriptor: NIOLockedValueBox<Int32>
    /// The descriptor as it was opened, for the reader thread, which runs until ``shutdownReceiving()``.
    let readerDescriptor: Int32

    /// Opens a socket bound to `address`; throws a message naming the failing call.
    init(boundTo address: SocketAddress) throws(FrontendError) {
        let family = address.protocol.rawValue
        let descriptor = socket(family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw Self.error("socket", address) }
        var one: Int32 = 1
        var timeout = Self.receiveTimeout
        let bound =
            setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size)) == 0
            && setsockopt(descriptor, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size)) == 0
            && setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size)) == 0
            && address.withSockAddr { bind(descriptor, $0, socklen_t($1)) } == 0
        guard bound else {
            let error = Self.error("bind", address)
            Glibc.close(descriptor)
            throw error
        }
        self.descriptor = NIOLockedValueBox(descriptor)
        self.readerDescriptor = descriptor
    }

    private static func error(_ call: String, _ address: SocketAddress) -> FrontendError {
        let code = errno
        return FrontendError.cannotListen("udp", address.hostAndPort, reason: "\(call): \(String(cString: strerror(code)))",
                                          addressInUse: code == EADDRINUSE)
    }

    /// The address the socket is bound to, with the port the kernel chose.
    var localAddress: SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let found = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(self.readerDescriptor, $0, &length) }
        }
        return found == 0 ? SocketAddress(kernelAddress: storage) : nil
    }

    /// Sends one datagram without blocking (an event loop calls this); dropped like any UDP datagram when the
    /// socket buffer is full or the socket is closed.
    func send(_ message: ByteBuffer, to destination: SocketAddress) {
        self.descriptor.withLockedValue { descriptor in
            guard descriptor >= 0, message.readableBytes > 0 else { return }
            _ = message.withUnsafeReadableBytes { bytes in
                destination.withSockAddr { address, length in
                    sendto(descriptor, bytes.baseAddress, bytes.count, Int32(MSG_DONTWAIT), address, socklen_t(length))
                }
            }
        }
    }

    /// Sends the datagrams queued in `batch` without blocking (an event loop calls this), in one `sendmmsg`;
    /// dropped like any UDP datagram when the socket buffer is full or the socket is closed.
    func flush(_ batch: OpaquePointer) {
        self.descriptor.withLockedValue { descriptor in
            guard descriptor >= 0 else {
                clinuxnet_udp_batch_flush(-1, batch, 0)
                return
            }
            _ = clinuxnet_udp_batch_flush(descriptor, batch, Int32(MSG_DONTWAIT))
        }
    }

    /// Wakes a reader blocked in `recvmmsg`, which then returns 0; sending still works.
    func shutdownReceiving() {
        self.descriptor.withLockedValue { descriptor in
            guard descriptor >= 0 else { return }
            _ = shutdown(descriptor, Int32(SHUT_RD))
        }
    }

    /// Closes the socket; later sends are dropped.
    func close() {
        self.descriptor.withLockedValue { descriptor in
            guard descriptor >= 0 else { return }
            Glibc.close(descriptor)
            descriptor = -1
        }
    }
}
