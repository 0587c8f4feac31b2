// swift-tools-version:6.0
import PackageDescription

// shipit's own code imports FoundationEssentials, never Foundation: a member that only Foundation
// has (reached through a package that imports it) must not resolve silently, or the binary links
// Foundation, CoreFoundation and ICU again (docs/install.md, "Size").
let essentialsOnly: [SwiftSetting] = [.enableUpcomingFeature("MemberImportVisibility")]

let package = Package(
    name: "shipit",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "shipit", targets: ["shipit"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // The deployer's HTTP client (gates, webhooks, the GitHub API): NIO's HTTP/1.1 codec and TLS.
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        // SHA-256 (config hashes, artifacts) and HMAC-SHA256 for signed notifications.
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
    ],
    targets: [
        // The only C: libssh2 from the system (Debian: libssh2-1-dev).
        .systemLibrary(
            name: "CLibSSH2",
            pkgConfig: "libssh2",
            providers: [.apt(["libssh2-1-dev"]), .brew(["libssh2"])]
        ),
        // General helpers (paths, C formatting, locks, file descriptors) that the SSH wrapper, the core
        // and the CLI share, so the CLI needs no import of SSH for them. Nothing deploy-specific.
        .target(name: "ShipitSupport", swiftSettings: essentialsOnly),
        // Swift wrapper over libssh2. Nothing deploy-specific lives here.
        // zlib from the system (Debian: zlib1g-dev, which libssh2 uses too): a command longer than one
        // SSH packet is sent compressed.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]),
        .target(name: "SSH", dependencies: ["CLibSSH2", "CZlib", "ShipitSupport"]),
        // The config's YAML through the system's libyaml, the ledger through the system's SQLite
        // (Debian: libyaml-dev, libsqlite3-dev). Their Swift packages (Yams, GRDB) link all of
        // Foundation, CoreFoundation and ICU: see docs/install.md, "Size".
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"]), .brew(["libyaml"])]),
        .systemLibrary(
            name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite"])]),
        .target(
            name: "ShipitCore",
            dependencies: [
                "ShipitSupport",
                "SSH",
                "CZlib",
                "CYAML",
                "CSQLite",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                // RSA keys (traffic.tls): checked against their certificate on the deployer.
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: essentialsOnly
        ),
        .executableTarget(
            name: "shipit",
            dependencies: [
                "ShipitCore",
                "ShipitSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: essentialsOnly
        ),
        .executableTarget(
            name: "shipit-bench", dependencies: ["SSH", "ShipitCore"], path: "bench/Sources/shipit-bench"),
        .target(name: "TestSupport", dependencies: ["SSH", "ShipitCore"], path: "Tests/Support"),
        .testTarget(name: "SSHTests", dependencies: ["SSH", "TestSupport"]),
        .testTarget(name: "ShipitCoreTests", dependencies: ["ShipitCore", "TestSupport"]),
        .testTarget(name: "ShipitCLITests", dependencies: ["shipit", "ShipitCore", "TestSupport"]),
    ]
)
