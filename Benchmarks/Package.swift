// swift-tools-version: 6.1
import PackageDescription

// Micro-benchmarks of dnsgate's hot paths with ordo-one/benchmark: `cd Benchmarks && swift package benchmark`.
let package = Package(
    name: "dnsgate-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        // The package is named after its folder: the checkout is "main" here; rename if yours differs.
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "PacketFilter",
            dependencies: [
                .product(name: "TUNResponder", package: "main"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/PacketFilter",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ]
)
