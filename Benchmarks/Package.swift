// swift-tools-version: 6.1
import Foundation
import PackageDescription

// SwiftPM names a local package after its folder: whatever the checkout is called.
let dnsgate = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent
    .lowercased()

// Micro-benchmarks of dnsgate's hot paths with ordo-one/benchmark: `cd Benchmarks && swift package benchmark`.
let package = Package(
    name: "dnsgate-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "PacketFilter",
            dependencies: [
                .product(name: "TUNResponder", package: dnsgate),
                .product(name: "DNSCore", package: dnsgate),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/PacketFilter",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ]
)
