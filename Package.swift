// swift-tools-version: 6.2
import PackageDescription

let upcomingFeatures: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
    // Exclusive access is still checked at compile time; the run-time checks cost about 2.5 % of the CPU per
    // forwarded query in release builds (perf, cache-miss benchmark), so they stay on in debug builds only.
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

/// How the release binary is linked: by lld, with relative relocations packed (DT_RELR, glibc 2.36) and no dynamic
/// symbol table of its own symbols (the static standard library's link arguments ask for -export-dynamic; nothing
/// looks dnsgate's symbols up at run time). Startup then no longer reads 3.4 MB of relocations and 1.6 MB of symbols:
/// idle RSS 34.3 -> 29.4 MiB (scripts/bench-memory.sh).
let releaseLinking: [LinkerSetting] = [
    .unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
                  "-Xlinker", "--no-export-dynamic"], .when(configuration: .release)),
]

let nioCore = Target.Dependency.product(name: "NIOCore", package: "swift-nio")
let nioPosix = Target.Dependency.product(name: "NIOPosix", package: "swift-nio")
let nioSSL = Target.Dependency.product(name: "NIOSSL", package: "swift-nio-ssl")
let logging = Target.Dependency.product(name: "Logging", package: "swift-log")
let nioEmbedded = Target.Dependency.product(name: "NIOEmbedded", package: "swift-nio")
/// What unit tests of the codec and channel handlers need besides the module under test.
let handlerTestDependencies: [Target.Dependency] = ["DNSCore", "DNSWire", "DNSTestSupport", nioCore, nioEmbedded]

let package = Package(
    name: "dnsgate",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "dnsgate", targets: ["dnsgate"]),
        // For Benchmarks/ (a package of its own, so that the benchmark tooling stays out of the build and CI).
        .library(name: "TUNResponder", targets: ["TUNResponder"]),
        .library(name: "DNSCore", targets: ["DNSCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
        // SHA-256 of upstream public keys for SPKI pinning (RFC 7858 §4.2).
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0", traits: [.defaults, "YAML"]),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-atomics", from: "1.3.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        // Already behind swift-configuration's YAML provider; Config walks the file's key tree with it.
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        // base64url for DoH GET requests, without Foundation's detour through standard base64.
        .package(url: "https://github.com/swift-extras/swift-extras-base64", from: "1.2.0"),
        // Fetches blocklists published at http(s) URLs.
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
    ],
    targets: [
        .target(name: "DNSWire", dependencies: [nioCore], swiftSettings: upcomingFeatures),
        .target(
            name: "DNSCore",
            dependencies: ["DNSWire", "CLinuxNet", nioCore, .product(name: "Atomics", package: "swift-atomics")],
            swiftSettings: upcomingFeatures
        ),
        .target(
            name: "DNSSEC",
            dependencies: ["DNSCore", "DNSWire", nioCore, logging,
                           .product(name: "Crypto", package: "swift-crypto"),
                           .product(name: "_CryptoExtras", package: "swift-crypto")],
            swiftSettings: upcomingFeatures
        ),
        .target(
            name: "DNSCache",
            dependencies: ["DNSCore", "DNSWire", nioCore, .product(name: "Atomics", package: "swift-atomics")],
            swiftSettings: upcomingFeatures
        ),
        .target(
            name: "DNSUpstream",
            dependencies: ["DNSCore", "DNSWire", "DNSHTTP2", "UpstreamTLS", "CQUIC", "DNSQUIC", nioCore, nioPosix, logging,
                           .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                           .product(name: "NIOTLS", package: "swift-nio"),
                           .product(name: "Crypto", package: "swift-crypto"),
                           .product(name: "ExtrasBase64", package: "swift-extras-base64"),
                           .product(name: "Atomics", package: "swift-atomics")],
            swiftSettings: upcomingFeatures
        ),
        // Debian's libnghttp2 for HTTP/2 at both DoH ends.
        .systemLibrary(name: "CNGHTTP2", pkgConfig: "libnghttp2", providers: [.apt(["libnghttp2-dev"])]),
        // QUIC (DoQ) on Debian's ngtcp2 0.12 with GnuTLS, behind a C shim that keeps the pre-1.0 API in one file.
        .target(name: "CQUIC", linkerSettings: [.linkedLibrary("ngtcp2"), .linkedLibrary("ngtcp2_crypto_gnutls"),
                                                .linkedLibrary("gnutls")]),
        .target(name: "DNSQUIC", dependencies: ["CQUIC", nioCore], swiftSettings: upcomingFeatures),
        .target(name: "DNSHTTP2", dependencies: ["CNGHTTP2", nioCore], swiftSettings: upcomingFeatures),
        .target(
            name: "DNSFrontend",
            dependencies: [
                "DNSCore", "DNSWire", "DNSHTTP2", "CLinuxNet", "CQUIC", "DNSQUIC", nioCore, nioPosix, nioSSL, logging,
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "ExtrasBase64", package: "swift-extras-base64"),
            ],
            swiftSettings: upcomingFeatures
        ),
        .target(
            name: "DNSPolicy",
            dependencies: ["DNSCore", "DNSWire", nioCore, .product(name: "Atomics", package: "swift-atomics")],
            swiftSettings: upcomingFeatures
        ),
        .target(
            name: "RedisTier",
            dependencies: ["DNSCache", "DNSCore", nioCore, nioPosix, logging],
            swiftSettings: upcomingFeatures
        ),
        .target(name: "CLinuxNet"),
        // Debian's OpenSSL for the upstream TLS client: swift-nio-ssl has no client session resumption.
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .target(
            name: "UpstreamTLS",
            dependencies: ["COpenSSL", nioCore, .product(name: "NIOTLS", package: "swift-nio")],
            swiftSettings: upcomingFeatures
        ),
        .target(
            name: "FakeIP",
            dependencies: ["DNSCore", "DNSWire", nioCore, .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: upcomingFeatures
        ),
        .target(
            name: "TUNResponder",
            dependencies: ["DNSCore", "DNSWire", "CLinuxNet", nioCore, .product(name: "Atomics", package: "swift-atomics")],
            swiftSettings: upcomingFeatures
        ),
        .target(
            name: "TransparentProxy",
            dependencies: ["FakeIP", "DNSCore", "DNSWire", "CLinuxNet", nioCore, nioPosix, logging,
                           .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                           .product(name: "Atomics", package: "swift-atomics")],
            swiftSettings: upcomingFeatures
        ),
        .target(
            name: "Config",
            // The configuration model owns plain settings values only: the runtime targets are DNSGateApp's to
            // map them onto (scripts/check-module-graph.py holds every target to DESIGN's table).
            dependencies: [
                "DNSCore", "DNSWire",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Yams", package: "Yams"),
                nioCore,
                logging,
            ],
            swiftSettings: upcomingFeatures
        ),
        .target(
            name: "Admin",
            dependencies: ["DNSCore", nioCore, logging, .product(name: "Hummingbird", package: "hummingbird")],
            swiftSettings: upcomingFeatures
        ),
        .target(
            name: "DNSGateApp",
            dependencies: [
                "Admin", "Config", "DNSCore", "DNSWire", "DNSCache", "DNSUpstream", "DNSFrontend", "DNSPolicy", "RedisTier",
                "TUNResponder", "UpstreamTLS", "DNSSEC",
                "FakeIP", "TransparentProxy",
                nioCore,
                nioPosix,
                logging,
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
            ],
            swiftSettings: upcomingFeatures
        ),
        .executableTarget(
            name: "dnsgate",
            dependencies: [
                "DNSGateApp", "Config", "DNSCore", "FakeIP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: upcomingFeatures,
            linkerSettings: releaseLinking
        ),
        .target(
            name: "DNSTestSupport",
            dependencies: ["DNSCore", "DNSWire", nioCore],
            path: "Tests/DNSTestSupport",
            swiftSettings: upcomingFeatures
        ),
        .testTarget(name: "UpstreamTLSTests", dependencies: [
            "UpstreamTLS", nioCore, nioPosix, nioSSL,
            .product(name: "NIOTLS", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ]),
        .testTarget(name: "DNSHTTP2Tests", dependencies: ["DNSHTTP2", nioCore]),
        .testTarget(name: "DNSWireTests", dependencies: ["DNSWire", "DNSTestSupport", nioCore]),
        .testTarget(name: "DNSSECTests", dependencies: ["DNSSEC", nioPosix, logging,
                                                    .product(name: "Crypto", package: "swift-crypto")]
                        + handlerTestDependencies),
        .testTarget(name: "DNSFrontendTests", dependencies: ["DNSFrontend", .product(name: "NIOHTTP1", package: "swift-nio")]
                        + handlerTestDependencies),
        // swift-nio-http2 is the independent HTTP/2 server the DoH client is tested against.
        .testTarget(name: "DNSUpstreamTests", dependencies: ["DNSUpstream", nioPosix, logging,
                                                         .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                                                         .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                                                         .product(name: "NIOHPACK", package: "swift-nio-http2")]
                        + handlerTestDependencies),
        .testTarget(name: "ConfigTests", dependencies: [
            "Config", "DNSCore", nioCore,
            .product(name: "Configuration", package: "swift-configuration"),
        ]),
        .testTarget(name: "DNSPolicyTests", dependencies: ["DNSPolicy", .product(name: "Atomics", package: "swift-atomics")]
                        + handlerTestDependencies),
        .testTarget(name: "DNSCacheTests", dependencies: ["DNSCache"] + handlerTestDependencies),
        .testTarget(name: "TUNResponderTests", dependencies: ["TUNResponder"] + handlerTestDependencies),
        .testTarget(name: "FakeIPTests", dependencies: ["FakeIP"] + handlerTestDependencies),
        .testTarget(name: "TransparentProxyTests",
                    dependencies: ["TransparentProxy", "DNSCore", "DNSWire", nioCore, nioEmbedded, nioPosix]),
        .testTarget(name: "RedisTierTests", dependencies: ["RedisTier", "DNSCore", nioCore, nioEmbedded, nioPosix]),
        .testTarget(name: "DNSCoreTests", dependencies: handlerTestDependencies),
        .testTarget(name: "AdminTests", dependencies: ["Admin", "DNSTestSupport", nioCore,
                                                    .product(name: "Atomics", package: "swift-atomics")]),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["DNSWire", "DNSCore", "DNSTestSupport", nioCore, nioPosix,
                           .product(name: "NIOConcurrencyHelpers", package: "swift-nio")]
        ),
    ]
)
