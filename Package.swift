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
/// The guard links against musl, not glibc. Directory holding libkmod.a, libblkid.a, libzstd.a,
/// liblzma.a built against musl and their headers in include/ (scripts/deps builds them from
/// Debian's sources and prints this directory last).
let staticDirectory = environment["KMODGUARD_STATIC_DIR"] ?? "/var/cache/kmodguard-dev/musl-static"
/// Debian's musl-dev: libc.a and crt*.o (its headers are $staticDirectory/sysroot/usr/include).
let muslLibrary = environment["KMODGUARD_MUSL_LIBDIR"] ?? "/usr/lib/x86_64-linux-musl"
let swiftToolchainLibrary = environment["KMODGUARD_SWIFT_LIBDIR"] ?? "/opt/swift/usr/lib"
let embeddedRuntimeDirectory = swiftToolchainLibrary + "/swift/embedded/x86_64-unknown-linux-gnu"

let strictSwift: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    // Warnings are defects.
    .unsafeFlags(["-warnings-as-errors"]),
]
/// C headers seen by the guard's C code and by Swift's importer: musl's (a sysroot whose
/// usr/include is musl's include directory; Swift's importer needs a sysroot, not -nostdlibinc)
/// and those of the musl-built libraries, never glibc's /usr/include: struct layouts and macros
/// must be musl's.
let muslCFlags = ["--sysroot=" + staticDirectory + "/sysroot", "-isystem", staticDirectory + "/include"]
let embeddedSwift: [SwiftSetting] = embedded
    ? [.enableExperimentalFeature("Embedded"),
       .unsafeFlags(["-wmo", "-Osize", "-Xfrontend", "-function-sections"] + muslCFlags.flatMap { ["-Xcc", $0] })]
    : []
let embeddedC: [CSetting] = embedded ? [.unsafeFlags(muslCFlags + ["-Os", "-ffunction-sections", "-fdata-sections"])] : []

var targets: [Target] = [
    .target(
        name: "KmodguardCore",
        swiftSettings: strictSwift + embeddedSwift
    ),
    .target(name: "CSystem", cSettings: embeddedC),
    // The guard takes these from the musl-built static directory, not from pkg-config (glibc).
    .systemLibrary(name: "CKmod", pkgConfig: embedded ? nil : "libkmod"),
    .systemLibrary(name: "CBlkid", pkgConfig: embedded ? nil : "blkid"),
    .target(
        name: "KmodguardSystem",
        dependencies: ["KmodguardCore", "CSystem", "CKmod", "CBlkid"],
        // Starting processes needs Foundation, which Embedded Swift does not have; the guard
        // starts none.
        exclude: embedded ? ["NamespaceSupport.swift", "ProcessRunner.swift", "WallClock.swift"] : [],
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
                // Static against musl: no default startup files or libraries (they would be
                // glibc's); every archive by path (no -l search that could fall back to
                // /usr/lib/x86_64-linux-gnu), in dependency order.
                .unsafeFlags([
                    "-Xclang-linker", "-static",
                    "-Xclang-linker", "-nostdlib",
                    "-Xclang-linker", "-Wno-unused-command-line-argument",
                    "-Xlinker", "--gc-sections",
                ] + [
                    staticDirectory + "/libkmod.a",
                    staticDirectory + "/libblkid.a",
                    staticDirectory + "/libzstd.a",
                    staticDirectory + "/liblzma.a",
                    embeddedRuntimeDirectory + "/libswiftUnicodeDataTables.a",
                    muslLibrary + "/crt1.o",
                    muslLibrary + "/crti.o",
                    muslLibrary + "/libc.a",
                    muslLibrary + "/crtn.o",
                ].flatMap { ["-Xlinker", $0] }),
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
        // The post-boot subsystems, one library each, under the thin `kmodguard` command target.
        // Compiling a driver for a kernel the way DKMS does.
        .target(
            name: "KmodguardBuilder",
            dependencies: ["KmodguardCore", "KmodguardSystem", "KmodguardCompletion"],
            swiftSettings: strictSwift
        ),
        // The signed driver database: fetch, verify, extract, publish.
        .target(
            name: "KmodguardDatabase",
            dependencies: [
                "CCurl", "KmodguardCore", "KmodguardSystem", "KmodguardCompletion", "KmodguardBuilder",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSwift
        ),
        // Rebuilding and verifying initramfs images with the distribution's generator.
        .target(
            name: "KmodguardInitramfs",
            dependencies: ["KmodguardCore", "KmodguardSystem", "KmodguardCompletion"],
            swiftSettings: strictSwift
        ),
        // What the completion service does: observe the system, plan, run the steps, keep state,
        // report status.
        .target(
            name: "KmodguardService",
            dependencies: [
                "KmodguardCore", "KmodguardSystem", "KmodguardCompletion",
                "KmodguardBuilder", "KmodguardDatabase", "KmodguardInitramfs",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),
        .executableTarget(
            name: "kmodguard",
            dependencies: [
                "KmodguardCore", "KmodguardSystem", "KmodguardCompletion",
                "KmodguardBuilder", "KmodguardDatabase", "KmodguardInitramfs", "KmodguardService",
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
            name: "KmodguardSystemTests",
            dependencies: ["KmodguardSystem"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "KmodguardCompletionTests",
            dependencies: ["KmodguardCompletion"],
            swiftSettings: strictSwift
        ),
        // Helpers the test targets share (built tools, the database test bed, driver fixtures).
        .target(
            name: "KmodguardTestSupport",
            dependencies: ["KmodguardCore", "KmodguardSystem", "KmodguardCompletion", "KmodguardBuilder", "KmodguardDatabase"],
            path: "Tests/KmodguardTestSupport",
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "KmodguardBuilderTests",
            dependencies: ["KmodguardBuilder", "KmodguardTestSupport"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "KmodguardDatabaseTests",
            dependencies: ["KmodguardDatabase", "KmodguardTestSupport"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "KmodguardInitramfsTests",
            dependencies: ["KmodguardInitramfs", "KmodguardTestSupport"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "KmodguardServiceTests",
            dependencies: ["KmodguardService", "KmodguardTestSupport"],
            swiftSettings: strictSwift
        ),
        // The commands, through the built binary (it must be built first: `swift build`).
        .testTarget(
            name: "kmodguardTests",
            dependencies: ["kmodguard", "KmodguardService", "KmodguardTestSupport"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "kmodguard-earlyTests",
            dependencies: ["KmodguardCore", "KmodguardTestSupport"],
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
