package import Foundation
package import Testing

/// What a program run by a test printed and how it ended.
package struct ProcessResult: Sendable {
    package var status: Int32
    package var stdout: Data
    package var stderr: Data
    package var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    package var stderrText: String { String(decoding: stderr, as: UTF8.self) }
}

/// Runs the programs the tests drive: the built `kmodguard` and `kmodguard-early`, grub-editenv,
/// depmod.
package enum TestProcess {
    /// The kmodguard binary under test, or nil after recording why it was not found.
    package static func kmodguard(sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        let fileManager = FileManager.default
        if let explicit = ProcessInfo.processInfo.environment["KMODGUARD_BIN"], !explicit.isEmpty {
            if fileManager.isExecutableFile(atPath: explicit) { return explicit }
            Issue.record("KMODGUARD_BIN=\(explicit) is not an executable file", sourceLocation: sourceLocation)
            return nil
        }
        var directories: [URL] = []
        if let first = CommandLine.arguments.first, !first.isEmpty {
            let bundle = URL(fileURLWithPath: first).standardizedFileURL.deletingLastPathComponent()
            directories += [bundle, bundle.deletingLastPathComponent()]
        }
        if let executable = try? fileManager.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            directories.append(URL(fileURLWithPath: executable).deletingLastPathComponent())
        }
        var seen: Set<String> = []
        directories = directories.filter { seen.insert($0.path).inserted }
        for directory in directories {
            let candidate = directory.appendingPathComponent("kmodguard").path
            var isDirectory: ObjCBool = false
            if fileManager.fileExists(atPath: candidate, isDirectory: &isDirectory), !isDirectory.boolValue,
               fileManager.isExecutableFile(atPath: candidate) {
                return candidate
            }
        }
        Issue.record("""
            the kmodguard binary was not found (looked in \(directories.map(\.path))); \
            build it (swift build --product kmodguard) or set KMODGUARD_BIN=/path/to/kmodguard
            """, sourceLocation: sourceLocation)
        return nil
    }

    /// `environment`: exactly these variables (`[:]`: none, as in an initramfs); by default the
    /// test's own with `LC_ALL=C`.
    @discardableResult
    package static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> ProcessResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var childEnvironment = ProcessInfo.processInfo.environment
        childEnvironment["LC_ALL"] = "C"
        process.environment = environment ?? childEnvironment
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Both tools print at most a few KiB, far below a pipe's buffer: reading one pipe to
        // its end before the other cannot deadlock.
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        let err = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let status = process.terminationReason == .exit ? process.terminationStatus : 128 + process.terminationStatus
        return ProcessResult(status: status, stdout: out, stderr: err)
    }
}
