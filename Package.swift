// swift-tools-version:6.0
//
// Two builds share this manifest:
//  * regular (default): KmodguardCore, KmodguardSystem, the `kmodguard` CLI and the tests;
//  * Embedded (`KMODGUARD_EMBEDDED=1`, own `--scratch-path`): KmodguardCore, KmodguardSystem
//    and the fully static `kmodguard-early` that runs inside the initramfs.
// Embedded and regular Swift modules cannot be mixed in one build, hence the switch.
import PackageDescription

let environment = Context.environment
let embedded = environment["KMODGUARD_EMBEDDED"] == "1"
/// Directory holding the static libkmod.a (built by scripts/deps; Debian ships none).
let staticKmodDirectory = environment["KMODGUARD_KMOD_STATIC_DIR"] ?? "/var/cache/kmodguard-dev/libkmod-static"
let embeddedRuntimeDirectory = environment["KMODGUARD_EMBEDDED_LIBDIR"]
    ?? "/opt/swift/usr/lib/swift/embedded/x86_64-unknown-linux-gnu"

let strictSwift: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    // Warnings are defects.
    .unsafeFlags(["-warnings-as-errors"]),
]
let embeddedSwift: [SwiftSetting] = embedded
    ? [.enableExperimentalFeature("Embedded"), .unsafeFlags(["-wmo", "-Osize"])]
    : []

var targets: [Target] = [
    .target(
        name: "KmodguardCore",
        swiftSettings: strictSwift + embeddedSwift
    ),
    .target(name: "CSystem"),
    .systemLibrary(name: "CKmod", pkgConfig: "libkmod"),
    .systemLibrary(name: "CBlkid", pkgConfig: "blkid"),
    .target(
        name: "KmodguardSystem",
        dependencies: ["KmodguardCore", "CSystem", "CKmod", "CBlkid"],
        swiftSettings: strictSwift + embeddedSwift
    ),
]
var products: [Product] = []
var dependencies: [Package.Dependency] = []

if embedded {
    targets.append(
        .executableTarget(
            name: "kmodguard-early",
            dependencies: ["KmodguardCore", "KmodguardSystem", "CSystem"],
            swiftSettings: strictSwift + embeddedSwift,
            linkerSettings: [
                .unsafeFlags([
                    "-Xclang-linker", "-static",
                    "-Xclang-linker", "-Wno-unused-command-line-argument",
                    "-Xlinker", "--gc-sections",
                    "-L", staticKmodDirectory,
                    "-L", embeddedRuntimeDirectory,
                ]),
                .linkedLibrary("swiftUnicodeDataTables"),
                .linkedLibrary("zstd"),
                .linkedLibrary("lzma"),
                .linkedLibrary("m"),
            ]
        )
    )
    products.append(.executable(name: "kmodguard-early", targets: ["kmodguard-early"]))
} else {
    dependencies = [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
    ]
    targets += [
        // Pure post-boot logic (dkms.conf, build exclusions, compiler logs, planning): no
        // Foundation, but kept out of Core so none of it is linked into the initramfs guard.
        .target(
            name: "KmodguardCompletion",
            dependencies: ["KmodguardCore"],
            swiftSettings: strictSwift
        ),
        // libcurl: dynamic, CLI only (Debian has no static krb5 to link it statically).
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl"),
        .executableTarget(
            name: "kmodguard",
            dependencies: [
                "CCurl",
                .product(name: "Crypto", package: "swift-crypto"),
                "KmodguardCore", "KmodguardSystem", "KmodguardCompletion",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "KmodguardCoreTests",
            dependencies: ["KmodguardCore"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "KmodguardCompletionTests",
            dependencies: ["KmodguardCompletion"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "kmodguardTests",
            dependencies: ["kmodguard"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "kmodguard-earlyTests",
            dependencies: ["KmodguardCore"],
            swiftSettings: strictSwift
        ),
    ]
    products += [
        .executable(name: "kmodguard", targets: ["kmodguard"]),
        .library(name: "KmodguardCore", targets: ["KmodguardCore"]),
    ]
}

let package = Package(
    name: "kmodguard",
    products: products,
    dependencies: dependencies,
    targets: targets,
    swiftLanguageModes: [.v6]
)
