import Foundation
package import KmodguardCore

package import Testing

/// Inputs of the builder's integration tests: the real-kernel fixture root (scripts/fixture-kernels),
/// the driver-sources cache (scripts/driver-sources), the built guard, the installed headers.
package enum BuilderInputs {
    package static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    package static let environment = ProcessInfo.processInfo.environment
    package static let fixtureRoot = environment["KMODGUARD_FIXTURE_ROOT"] ?? ""
    package static let driverSources = environment["KMODGUARD_DRIVER_SOURCES"] ?? ""
    package static let early = environment["KMODGUARD_EARLY"] ?? repository + "/out/kmodguard-early"
    /// scripts/test sets this: then missing inputs fail instead of disabling the tests.
    package static let required = environment["KMODGUARD_REQUIRE_INTEGRATION"] == "1"
    package static let fixtureModuleSource = repository + "/Tests/Fixtures/kmod-fixture"

    package static var fixtureAvailable: Bool { FileManager.default.fileExists(atPath: fixtureRoot + "/.kmodguard-fixture") }
    package static var driverSourcesAvailable: Bool { FileManager.default.fileExists(atPath: driverSources + "/sources.txt") }

    /// K_OLD, K_NEW and MODULE from the fixture's description file.
    package static var kernels: (old: String, new: String, module: String) {
        let text = (try? String(contentsOfFile: fixtureRoot + "/.kmodguard-fixture", encoding: .utf8)) ?? ""
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { values[parts[0]] = parts[1] }
        }
        return (values["K_OLD"] ?? "", values["K_NEW"] ?? "", values["MODULE"] ?? "")
    }

    package static func headers(_ kernel: String) -> String { "/usr/src/linux-headers-" + kernel }

    /// Fails the test (when required) or returns false with the reason recorded as a comment.
    package static func requireFixture(sourceLocation: SourceLocation = #_sourceLocation) throws {
        guard fixtureAvailable else {
            throw BuilderTestError("KMODGUARD_FIXTURE_ROOT does not name a fixture root (run scripts/fixture-kernels)")
        }
        let (old, new, _) = kernels
        for kernel in [old, new] where !FileManager.default.fileExists(atPath: headers(kernel) + "/Makefile") {
            throw BuilderTestError("no headers for " + kernel + " at " + headers(kernel) + ": apt-get install linux-headers-" + kernel
                + " (scripts/driver-sources installs both)")
        }
    }

    /// `NAME VERSION DIR` lines of the driver-sources index.
    package static func driverSource(_ name: String) throws -> String {
        let text = try String(contentsOfFile: driverSources + "/sources.txt", encoding: .utf8)
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ").map(String.init)
            if fields.count >= 3, fields[0] == name { return fields[2] }
        }
        throw BuilderTestError(name + " is not listed in " + driverSources + "/sources.txt")
    }
}

/// A throwaway root for builds: ROOT/lib/modules/K for the fixture kernels as symlink farms of the
/// fixture's trees (without the fixture's prebuilt module), `build` → the real headers, depmod'ed.
package struct BuilderScratchRoot {
    package let path: String
    package let old: String
    package let new: String
    package let module: String

    package init(kernels: [String]? = nil) throws {
        let fixture = BuilderInputs.kernels
        old = fixture.old
        new = fixture.new
        module = fixture.module
        path = FileManager.default.temporaryDirectory.appendingPathComponent("kmodguard-builder-\(UUID().uuidString)").path
        let manager = FileManager.default
        try manager.createDirectory(atPath: path + "/lib/modules", withIntermediateDirectories: true)
        try manager.createDirectory(atPath: path + "/etc/kmodguard", withIntermediateDirectories: true)
        for kernel in kernels ?? [old, new] {
            let tree = path + "/lib/modules/" + kernel
            try runBuilderTool("/bin/cp", ["-rs", BuilderInputs.fixtureRoot + "/lib/modules/" + kernel, tree])
            for name in ["updates", "build", "source"] where (try? manager.destinationOfSymbolicLink(atPath: tree + "/" + name)) != nil
                || manager.fileExists(atPath: tree + "/" + name) {
                try manager.removeItem(atPath: tree + "/" + name)
            }
            try manager.createSymbolicLink(atPath: tree + "/build", withDestinationPath: BuilderInputs.headers(kernel))
            try runBuilderTool("/sbin/depmod", ["-b", path, kernel])
        }
    }

    package var systemRoot: SystemRoot { SystemRoot(path) }
    package func release(_ kernel: String) throws -> KernelRelease { try #require(KernelRelease(kernel)) }
    package func installDirectory(_ kernel: String) -> String { path + "/lib/modules/" + kernel + "/updates/kmodguard" }

    /// The .ko files installed by kmodguard for `kernel`.
    package func installed(_ kernel: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: installDirectory(kernel))) ?? []).sorted()
    }

    /// Writes the guard's configuration and runs the real guard in dry-run mode.
    package func runGuard(kernel: String, modules: [String]) throws -> BuilderToolResult {
        let config = path + "/etc/kmodguard/kmodguard.conf"
        try Data(("MODULES=\"" + modules.joined(separator: " ") + "\"\n").utf8).write(to: URL(fileURLWithPath: config))
        return try runBuilderTool(BuilderInputs.early, ["--root", path, "--kernel", kernel, "--dry-run", "--no-reboot", "--log", "stderr",
                                                 "--config", config], check: false)
    }

    package func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// A copy of a source tree the test may edit.
package struct BuilderSourceCopy {
    package let path: String

    package init(of source: String) throws {
        let parent = FileManager.default.temporaryDirectory.appendingPathComponent("kmodguard-source-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        path = parent + "/" + (source.split(separator: "/").last.map(String.init) ?? "source")
        try FileManager.default.copyItem(atPath: source, toPath: path)
    }

    package func read(_ name: String) throws -> String { try String(contentsOfFile: path + "/" + name, encoding: .utf8) }

    package func write(_ name: String, _ text: String) throws {
        let file = URL(fileURLWithPath: path + "/" + name)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: file)
    }

    /// Replaces the first occurrence of `old` in `name` (which must contain it).
    package func edit(_ name: String, replacing old: String, with new: String) throws {
        let text = try read(name)
        guard let range = text.range(of: old) else { throw BuilderTestError(name + " does not contain " + old) }
        try write(name, text.replacingCharacters(in: range, with: new))
    }

    package func remove() { try? FileManager.default.removeItem(atPath: parentDirectory(path)) }
}

package struct BuilderTestError: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}

package struct BuilderToolResult {
    package let status: Int32
    package let stdout: String
    package let stderr: String
}

/// Runs a program; with `check`, a non-zero exit is an error carrying its output.
@discardableResult
package func runBuilderTool(_ executable: String, _ arguments: [String], check: Bool = true) throws -> BuilderToolResult {
    let run = try TestProcess.run(executable, arguments)
    let result = BuilderToolResult(status: run.status, stdout: run.stdoutText, stderr: run.stderrText)
    if check, result.status != 0 {
        throw BuilderTestError(executable + " " + arguments.joined(separator: " ") + " exited " + String(result.status) + ": " + result.stderr)
    }
    return result
}
