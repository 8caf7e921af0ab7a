public import DNSCore
import CLinuxNet
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Why the TUN device could not be set up.
public struct TUNDeviceError: Error, CustomStringConvertible, Hashable {
    private enum Base: Hashable {
        case cannotOpen(device: String, errno: Int32)
        case cannotRunIP(command: String, reason: String)
        case ipFailed(command: String, message: String)
    }

    private let base: Base

    private init(_ base: Base) {
        self.base = base
    }

    /// The device could not be created or attached (`errno` from the kernel).
    public static func cannotOpen(_ device: String, errno: Int32) -> Self { Self(.cannotOpen(device: device, errno: errno)) }
    /// The `ip` command could not be started.
    public static func cannotRunIP(_ command: String, reason: String) -> Self {
        Self(.cannotRunIP(command: command, reason: reason))
    }
    /// The `ip` command failed, with what it said.
    public static func ipFailed(_ command: String, message: String) -> Self {
        Self(.ipFailed(command: command, message: message))
    }

    public var description: String {
        switch self.base {
        case .cannotOpen(let device, let errno):
            return "cannot open TUN device \(device): \(String(cString: strerror(errno)))"
                + (errno == EPERM ? " (creating a TUN device needs CAP_NET_ADMIN)" : "")
        case .cannotRunIP(let command, let reason): return "cannot run ip \(command): \(reason)"
        case .ipFailed(let command, let message): return "ip \(command) failed: \(message)"
        }
    }
}

/// A Linux TUN device (`IFF_TUN | IFF_NO_PI`): created (or attached) by name, given an MTU, its own addresses and
/// routes for the virtual addresses, and removed with them when closed. A reader thread reads packets in batches
/// into a fixed buffer larger than any packet (a short read would silently lose the rest of a packet) and hands
/// them to a sink; `receive` writes exactly one packet per `write()`, because the kernel delivers only the first
/// packet of a longer write.
public final class TUNDevice: PacketSink {
    public let name: String
    public let mtu: Int
    private let descriptor: Int32
    private let stopping = Mutex(false)
    /// Whether the reader thread runs: close() waits for it to stop before closing the descriptor.
    private let readerRunning = Mutex(false)
    /// Writes that the device refused (its queue was full).
    public let statistics = PacketStatistics()

    /// The device's own addresses and the routes into it that ``init(name:mtu:addresses:routes:)`` added, removed
    /// again by ``close()`` (a device that existed before dnsgate outlives it).
    private let addresses: [IPInterfaceAddress]
    private let routes: Mutex<[IPPrefix]>

    /// Opens the device `name`, sets `mtu`, adds `addresses` (the device's own, to send from, with their prefixes,
    /// which the kernel then routes into the device) and routes `routes` (the virtual addresses) into it, and
    /// brings it up.
    public init(name: String, mtu: Int, addresses: [IPInterfaceAddress], routes: [IPPrefix]) throws {
        var actual = [CChar](repeating: 0, count: 32)
        let descriptor = clinuxnet_tun_open(name, 0, &actual)
        guard descriptor >= 0 else { throw TUNDeviceError.cannotOpen(name, errno: -descriptor) }
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        self.descriptor = descriptor
        self.name = String(decoding: actual.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        self.mtu = mtu
        self.addresses = addresses
        self.routes = Mutex(routes)
        do {
            try Self.ip(["link", "set", "dev", self.name, "mtu", "\(mtu)", "up"])
            for address in addresses {
                try Self.ip((address.address.isIPv4 ? ["-4"] : ["-6"]) + ["addr", "replace", "\(address)", "dev", self.name]
                    + (address.address.isIPv4 ? [] : ["nodad"]))
            }
            for route in routes {
                try Self.ip((route.address.isIPv4 ? ["-4"] : ["-6"]) + ["route", "replace", "\(route)", "dev", self.name])
            }
        } catch {
            Glibc.close(descriptor)
            throw error
        }
    }

    /// Routes `prefix` into the device as well (a virtual address added while running).
    public func route(_ prefix: IPPrefix) throws {
        try Self.ip((prefix.address.isIPv4 ? ["-4"] : ["-6"]) + ["route", "replace", "\(prefix)", "dev", self.name])
        self.routes.withLock { routes in if !routes.contains(prefix) { routes.append(prefix) } }
    }

    /// Stops routing `prefix` into the device.
    public func unroute(_ prefix: IPPrefix) {
        try? Self.ip((prefix.address.isIPv4 ? ["-4"] : ["-6"]) + ["route", "del", "\(prefix)", "dev", self.name])
        self.routes.withLock { $0.removeAll { $0 == prefix } }
    }

    /// Runs the `ip` tool; its error output becomes the error.
    private static func ip(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip")
            ? "/usr/sbin/ip" : "/sbin/ip")
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw TUNDeviceError.cannotRunIP(arguments.joined(separator: " "), reason: "\(error)")
        }
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TUNDeviceError.ipFailed(arguments.joined(separator: " "), message: message)
        }
    }

    /// Starts the reader thread, which hands every packet to `sink` until `close()`.
    public func startReading(into sink: any PacketSink) {
        self.readerRunning.withLock { $0 = true }
        startNamedThread("dnsgate-tun") { [self] in
            self.readLoop(into: sink)
            self.readerRunning.withLock { $0 = false }
        }
    }

    private func readLoop(into sink: any PacketSink) {
        // Larger than any packet: a read into a smaller buffer silently truncates.
        let capacity = 65_536
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
        defer { buffer.deallocate() }
        var poller = pollfd(fd: self.descriptor, events: Int16(POLLIN), revents: 0)
        while !self.stopping.withLock({ $0 }) {
            guard poll(&poller, 1, 100) > 0 else { continue }
            // The device queue holds 500 packets: drain a batch per wake-up.
            for _ in 0..<256 {
                let count = read(self.descriptor, buffer.baseAddress, capacity)
                guard count > 0 else { break }
                sink.receive(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            }
        }
    }

    /// Writes one packet.
    public func receive(_ packet: UnsafeRawBufferPointer) {
        if write(self.descriptor, packet.baseAddress, packet.count) != packet.count {
            self.statistics.dropped(.writeFailed)
        } else {
            self.statistics.count(self.statistics.handled)
        }
    }

    /// Stops the reader and closes the device; the kernel removes it with its addresses and routes.
    public func close() {
        let alreadyStopping = self.stopping.withLock { stopping in
            defer { stopping = true }
            return stopping
        }
        guard !alreadyStopping else { return }
        // The reader wakes from poll within 100 ms and sees the flag; wait for it before closing the descriptor.
        while self.readerRunning.withLock({ $0 }) { usleep(10_000) }
        // A device created here disappears with its descriptor; one that existed before keeps nothing of ours.
        for route in self.routes.withLock({ $0 }) { self.unroute(route) }
        for address in self.addresses {
            try? Self.ip((address.address.isIPv4 ? ["-4"] : ["-6"]) + ["addr", "del", "\(address)", "dev", self.name])
        }
        Glibc.close(self.descriptor)
    }
}
