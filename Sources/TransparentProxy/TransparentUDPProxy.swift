import CLinuxNet
import DNSCore
import FakeIP
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// The UDP side of the transparent proxy. SwiftNIO reports a datagram's original destination address but not its
/// port, so the TPROXY listener is read by a thread of its own with `recvmsg` and `IP_RECVORIGDSTADDR`; the
/// datagrams go to the flow table on an event loop, which opens a reply socket per flow (see ``UDPSessions``).
final class TransparentUDPProxy: Sendable {
    private let listen: [SocketAddress]
    private let loop: any EventLoop
    private let sessions: NIOLoopBoundBox<UDPSessions>
    private let descriptors = Mutex<[Int32]>([])
    private let stopping = Mutex(false)
    private let readersRunning = Mutex(0)

    init(settings: TransparentProxySettings, rules: ProxyRuleSet, pools: [FakeIPPool], dialers: DialerTable,
         loop: any EventLoop, journal: ConnectionJournal) {
        self.listen = settings.listen
        self.loop = loop
        self.sessions = NIOLoopBoundBox.makeBoxSendingValue(
            UDPSessions(loop: loop, pools: pools, dialers: dialers, settings: settings, rules: rules,
                        journal: journal),
            as: UDPSessions.self, eventLoop: loop)
    }

    func start() throws {
        for address in self.listen {
            let descriptor = address.withSockAddr { clinuxnet_udp_tproxy_listener($0, socklen_t($1)) }
            guard descriptor >= 0 else {
                throw TransparentProxyError.cannotBind("\(address) (udp)", reason: String(cString: strerror(-descriptor)),
                                                       needsCapability: -descriptor == EPERM)
            }
            self.descriptors.withLock { $0.append(descriptor) }
            self.readersRunning.withLock { $0 += 1 }
            startNamedThread("dnsgate-udpproxy") { [self] in
                self.read(descriptor)
                self.readersRunning.withLock { $0 -= 1 }
            }
        }
    }

    private func read(_ descriptor: Int32) {
        let capacity = DatagramSize.readCapacity
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
        defer { buffer.deallocate() }
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        var source = sockaddr_storage()
        var destination = sockaddr_storage()
        while !self.stopping.withLock({ $0 }) {
            guard poll(&poller, 1, 100) > 0 else { continue }
            for _ in 0..<256 {
                let count = clinuxnet_udp_receive(descriptor, buffer.baseAddress, capacity, &source, &destination)
                guard count >= 0 else { break }
                guard let client = SocketAddress(kernelAddress: source),
                    let original = SocketAddress(kernelAddress: destination)
                else { continue }
                let payload = ByteBuffer(bytes: UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                self.loop.execute {
                    self.sessions.value.received(payload, from: client, to: original)
                }
            }
        }
    }

    func shutdown() async {
        self.stopping.withLock { $0 = true }
        while self.readersRunning.withLock({ $0 }) > 0 { try? await Task.sleep(for: .milliseconds(20)) }
        for descriptor in self.descriptors.withLock({ $0 }) { close(descriptor) }
        try? await self.loop.submit { self.sessions.value.closeAll() }.get()
    }
}
