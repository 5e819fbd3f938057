import Foundation
@testable import KmodguardBuilder
import KmodguardTestSupport
import Testing

/// The view's script run for real (it mounts, so as root): what the command sees, what the host
/// keeps, and the cases where it must step aside.
@Suite struct DkmsPathViewTests {
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("kmodguard-view-" + UUID().uuidString).path

    func run(_ view: DkmsPathView, _ command: [String]) throws -> BuilderToolResult {
        let argv = view.prefix + command
        return try runBuilderTool(argv[0], Array(argv.dropFirst()), check: false)
    }

    /// Shell in Swift strings is still the project's shell: POSIX sh that passes shellcheck.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/shellcheck"), "needs shellcheck"))
    func scriptPassesShellcheck() throws {
        let file = base + ".sh"
        defer { try? FileManager.default.removeItem(atPath: file) }
        try Data(("#!/bin/sh\n" + DkmsPathView.script).utf8).write(to: URL(fileURLWithPath: file))
        let result = try runBuilderTool("/usr/bin/shellcheck", ["--shell=sh", file], check: false)
        #expect(result.status == 0, "\(result.stdout)")
    }

    @Test(.enabled(if: geteuid() == 0, "mounts: root only"))
    func existingAndMissingTargetsShowTheBuildDirectoryAndLeaveTheHostAlone() throws {
        defer { try? FileManager.default.removeItem(atPath: base) }
        let build = base + "/work/tree/build", existing = base + "/src/name-1", missing = base + "/dkms/name/1/build"
        for directory in [build, existing, base + "/dkms"] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        try Data("built\n".utf8).write(to: URL(fileURLWithPath: build + "/marker"))
        let view = DkmsPathView(buildDirectory: build, scratch: base + "/work/tree/.view", targets: [existing, missing])
        let result = try run(view, ["/bin/sh", "-c", "cat \"$0/marker\" \"$1/marker\" && touch \"$1/written\"", existing, missing])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "built\nbuilt\n")
        #expect(FileManager.default.fileExists(atPath: build + "/written"))
        // On the host: the missing path was never made, the existing one is untouched, no mount is left.
        #expect(!FileManager.default.fileExists(atPath: base + "/dkms/name"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: existing).isEmpty)
        #expect(try !String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8).contains(base))
    }

    /// An overlay on an ancestor of the build directory would hide the build from the build: that
    /// target is left out — silently, it is the usual case without DKMS — and the command runs.
    @Test(.enabled(if: geteuid() == 0, "mounts: root only"))
    func aTargetWhoseOverlayWouldHideTheBuildIsLeftOut() throws {
        defer { try? FileManager.default.removeItem(atPath: base) }
        let build = base + "/lib/kmodguard/build"
        try FileManager.default.createDirectory(atPath: build, withIntermediateDirectories: true)
        let view = DkmsPathView(buildDirectory: build, scratch: base + "/lib/kmodguard/.view",
                                targets: [base + "/lib/dkms/name/1/build"])
        let result = try run(view, ["/bin/echo", "ran"])
        #expect(result.status == 0 && result.stdout == "ran\n" && result.stderr.isEmpty, "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: base + "/lib/dkms"))
    }
}
