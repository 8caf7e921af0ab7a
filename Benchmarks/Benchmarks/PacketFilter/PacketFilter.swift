import Benchmark
import DNSCore
import TUNResponder

/// A sink that only counts, so the benchmark measures the filter itself.
final class CountingSink: PacketSink, @unchecked Sendable {
    var packets = 0
    func receive(_ packet: UnsafeRawBufferPointer) { self.packets &+= 1 }
}

/// An IPv4 UDP packet to `destination` (the filter reads only the destination).
func packet(to destination: [UInt8]) -> [UInt8] {
    [0x45, 0, 0, 48, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 2] + destination + [UInt8](repeating: 0, count: 28)
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .throughput],
                                           maxDuration: .seconds(3))

    // The pass-through path with a realistic rule set: two exact virtual addresses and a few prefixes.
    let passThrough = CountingSink()
    let responder = CountingSink()
    let filter = PacketFilter(passThrough: passThrough)
    for address in ["169.254.53.53", "fd53:7a9c:1e42::53"] {
        if let parsed = IPAddress(address) { filter.add(.host(parsed), sink: responder) }
    }
    for prefix in ["100.64.0.0/10", "192.0.2.0/24", "2001:db8::/32"] {
        if let parsed = IPPrefix(prefix) { filter.add(parsed, sink: responder) }
    }
    let other = packet(to: [93, 184, 216, 34])
    let virtual = packet(to: [169, 254, 53, 53])

    Benchmark("pass-through packet", configuration: .init(scalingFactor: .kilo)) { benchmark in
        other.withUnsafeBytes { bytes in
            for _ in benchmark.scaledIterations { filter.receive(bytes) }
        }
        blackHole(passThrough.packets)
    }

    Benchmark("matched packet", configuration: .init(scalingFactor: .kilo)) { benchmark in
        virtual.withUnsafeBytes { bytes in
            for _ in benchmark.scaledIterations { filter.receive(bytes) }
        }
        blackHole(responder.packets)
    }
}
