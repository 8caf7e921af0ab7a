import DNSCore
import Logging
import Synchronization
import TUNResponder

/// The TUN responder while it runs: the device, the filter in front of the responder, the virtual addresses it
/// answers (a reload may change them), and the packet counters.
final class RunningTUN: Sendable {
    let device: TUNDevice
    let counters: MetricSources.TUNCounters
    private let filter: PacketFilter
    private let responder: DNSPacketResponder
    private let addresses: Mutex<[IPAddress]>
    private let logger: Logger

    init(device: TUNDevice, filter: PacketFilter, responder: DNSPacketResponder, addresses: [IPAddress],
         logger: Logger) {
        self.device = device
        self.filter = filter
        self.responder = responder
        self.addresses = Mutex(addresses)
        self.logger = logger
        self.counters = .init(filter: filter.statistics, responder: responder.statistics, device: device.statistics)
    }

    /// Answers `addresses` from now on: new ones are routed into the device and answered, dropped ones no longer.
    func serve(_ addresses: [IPAddress]) {
        let previous = self.addresses.withLock { current in
            defer { current = addresses }
            return current
        }
        for address in addresses where !previous.contains(address) {
            do {
                try self.device.route(.host(address))
                self.filter.add(.host(address), sink: self.responder)
            } catch {
                self.logger.error("cannot route a virtual address into the TUN device",
                                  metadata: ["address": "\(address)", "error": "\(error)"])
            }
        }
        for address in previous where !addresses.contains(address) {
            self.filter.remove(.host(address))
            self.device.unroute(.host(address))
        }
    }
}
