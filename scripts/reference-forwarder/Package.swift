// swift-tools-version:6.0
// The simplest UDP DNS forwarder SwiftNIO allows, as a floor for dnsgate's CPU per query: see scripts/bench-low-rate.sh.
import PackageDescription

let package = Package(
    name: "reference-forwarder",
    dependencies: [.package(url: "https://github.com/apple/swift-nio", from: "2.101.2")],
    targets: [
        .executableTarget(
            name: "reference-forwarder",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        )
    ]
)
