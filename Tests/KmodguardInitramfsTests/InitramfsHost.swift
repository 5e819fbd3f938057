import Foundation
import Glibc
import KmodguardCore
import Testing
@testable import KmodguardInitramfs

/// The host side of the real initramfs tests: a kernel with headers, the fixture driver built for
/// it and installed into its `updates/` for the length of one test, and a sandbox in which the
/// generator sees the repository's kmodguard hooks and a test configuration, while the host's
/// own /etc/kmodguard, /usr/sbin and hook directories stay untouched for everyone else.
enum InitramfsHost {
    static let environment = ProcessInfo.processInfo.environment
    /// scripts/test sets this; only then do the real tests run (and must pass).
    static let required = environment["KMODGUARD_REQUIRE_INTEGRATION"] == "1"
    static let disabledReason: Comment = "changes the host (a module in /lib/modules/K/updates, depmod) and takes a minute: set KMODGUARD_REQUIRE_INTEGRATION=1 and run as root"
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let module = "kmodguard_fixture"
    /// KMODGUARD_KEEP=1 keeps the images, logs and sandboxes (as scripts/test-initramfs does).
    static let keep = environment["KMODGUARD_KEEP"] == "1"

    struct Prepared: Sendable {
        let kernel: String
        /// The fixture driver built for `kernel`.
        let builtModule: String
        /// The guard binary the hooks put into images.
        let early: String
    }

    /// Kernel, build and guard, once per test process.
    static let prepared: Result<Prepared, InitramfsTestError> = {
        do {
            let kernel = try kernelWithHeaders()
            let early = environment["KMODGUARD_EARLY"] ?? repository + "/out/kmodguard-early"
            guard FileManager.default.isExecutableFile(atPath: early) else {
                throw InitramfsTestError(early + " is missing: build it first (scripts/build), or set KMODGUARD_EARLY")
            }
            return .success(Prepared(kernel: kernel, builtModule: try buildFixture(kernel: kernel), early: early))
        } catch let error as InitramfsTestError {
            return .failure(error)
        } catch {
            return .failure(InitramfsTestError(String(describing: error)))
        }
    }()

    /// `KMODGUARD_INITRAMFS_KERNEL`, else the newest kernel here with a module tree and headers;
    /// with none, Debian's cloud kernel and its headers are installed.
    static func kernelWithHeaders() throws -> String {
        if let kernel = environment["KMODGUARD_INITRAMFS_KERNEL"], !kernel.isEmpty {
            if !usable(kernel) { try ensurePackages(["linux-image-" + kernel, "linux-headers-" + kernel]) }
            guard usable(kernel) else { throw InitramfsTestError("kernel \(kernel) has no /lib/modules/\(kernel)/modules.dep or build/") }
            return kernel
        }
        if let kernel = newestUsableKernel() { return kernel }
        try ensurePackages(["linux-image-cloud-amd64", "linux-headers-cloud-amd64"])
        guard let kernel = newestUsableKernel() else {
            throw InitramfsTestError("no kernel in /lib/modules has modules.dep and build/ even after installing linux-image-cloud-amd64")
        }
        return kernel
    }

    static func usable(_ kernel: String) -> Bool {
        let tree = "/lib/modules/" + kernel
        return FileManager.default.fileExists(atPath: tree + "/modules.dep")
            && FileManager.default.fileExists(atPath: tree + "/build/Makefile")
            && FileManager.default.fileExists(atPath: "/boot/vmlinuz-" + kernel)
    }

    static func newestUsableKernel() -> String? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/lib/modules")) ?? []
        return names.compactMap(KernelRelease.init).filter { usable($0.string) }.sorted(by: >).first?.string
    }

    static func ensurePackages(_ packages: [String]) throws {
        try shell(". \"$0\"/scripts/lib/common.sh && ensure_packages \"$@\"", [repository] + packages)
    }

    /// Builds Tests/Fixtures/kmod-fixture for `kernel` in a scratch copy; returns the .ko, kept
    /// as TMPDIR/kmodguard_fixture-K.ko (the next run overwrites it).
    static func buildFixture(kernel: String) throws -> String {
        let temporary = FileManager.default.temporaryDirectory
        let directory = temporary.appendingPathComponent("kmodguard-initramfs-fixture-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.copyItem(atPath: repository + "/Tests/Fixtures/kmod-fixture", toPath: directory)
        try shell("make -C \"/lib/modules/$0/build\" M=\"$1\" modules", [kernel, directory])
        let built = directory + "/" + module + ".ko"
        guard FileManager.default.fileExists(atPath: built) else { throw InitramfsTestError("make left no \(built)") }
        let kept = temporary.appendingPathComponent(module + "-" + kernel + ".ko").path
        try? FileManager.default.removeItem(atPath: kept)
        try FileManager.default.copyItem(atPath: built, toPath: kept)
        return kept
    }

    /// Runs a shell script; its output goes into the error when it fails.
    @discardableResult
    static func shell(_ script: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:" + (environment["PATH"] ?? "")
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw InitramfsTestError("sh -c '\(script)' \(arguments.joined(separator: " ")) failed (\(process.terminationStatus)):\n\(output)")
        }
        return output
    }

    /// Serialises the real tests across processes (they install the same file on the host).
    static func lock() throws -> Int32 {
        let path = FileManager.default.fileExists(atPath: "/run/lock") ? "/run/lock/kmodguard-initramfs-tests.lock" : "/tmp/kmodguard-initramfs-tests.lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0, flock(fd, LOCK_EX) == 0 else { throw InitramfsTestError("cannot lock \(path): errno \(errno)") }
        return fd
    }

    static func unlock(_ fd: Int32) { close(fd) }
}

/// The fixture driver in the host's `/lib/modules/K/updates/kmodguard/`, depmod'ed, until
/// `remove()` puts everything back as it was (a file that was there before included).
final class InitramfsHostModule {
    let kernel: String
    let target: String
    private var createdDirectories: [String] = []
    private var previous: Data?

    init(_ built: String, kernel: String) throws {
        self.kernel = kernel
        let updates = "/lib/modules/" + kernel + "/updates"
        target = updates + "/kmodguard/" + InitramfsHost.module + ".ko"
        for directory in [updates, updates + "/kmodguard"] where !FileManager.default.fileExists(atPath: directory) {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
            createdDirectories.append(directory)
        }
        previous = FileManager.default.contents(atPath: target)
        try? FileManager.default.removeItem(atPath: target)
        try FileManager.default.copyItem(atPath: built, toPath: target)
        try InitramfsHost.shell("depmod \"$0\"", [kernel])
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: target)
        if let previous { _ = FileManager.default.createFile(atPath: target, contents: previous) }
        for directory in createdDirectories.reversed() { rmdir(directory) }
        _ = try? InitramfsHost.shell("depmod \"$0\"", [kernel])
    }
}
