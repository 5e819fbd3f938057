import Foundation
import KmodguardCore
import KmodguardTestSupport
import Testing

/// The built `kmodguard-early` against real Debian kernel module trees and real libkmod.
@Suite(.enabled(if: Integration.available, "needs out/kmodguard-early and KMODGUARD_FIXTURE_ROOT (scripts/test sets both)"))
struct KmodguardEarlyIntegrationTests {
    func guardRun(_ root: ScratchRoot, kernel: String, _ extra: [String] = ["--dry-run", "--no-reboot"]) throws -> ProcessResult {
        try TestProcess.run(Integration.early, ["--root", root.path, "--kernel", kernel, "--log", "stderr"] + extra, environment: [:])
    }

    @Test func builtModuleIsFoundAndMatchesItsKernel() throws {
        let root = try ScratchRoot(config: "MODULES=\(Integration.fixture.module)\n")
        defer { root.remove() }
        let before = try root.grubenvBytes()
        let result = try guardRun(root, kernel: root.old)
        #expect(result.status == 0, "\(result.stderrText)")
        #expect(result.stderrText.contains("kmodguard: module \(root.module): resolves and matches \(root.old)"))
        #expect(try root.grubenvBytes() == before)
    }

    @Test func moduleBuiltForOtherKernelIsAVermagicMismatchAndFallsBack() throws {
        let root = try ScratchRoot(config: "MODULES=\(Integration.fixture.module)\n")
        defer { root.remove() }
        let result = try guardRun(root, kernel: root.new)
        #expect(result.status == 1, "\(result.stderrText)")
        #expect(result.stderrText.contains("vermagic mismatch: module has '\(root.old) SMP"))
        #expect(result.stderrText.contains("kernel expects '\(root.new) SMP"))
        let env = try root.grubenv()
        #expect(env.value("next_entry") == (try root.entryPath(root.old)))
        #expect(env.value("next_entry")?.contains(">") == true)
        #expect(env.value("kmodguard_failed") == root.new)
        #expect(env.value("kmodguard_reason") == "\(root.module): vermagic mismatch")
        #expect(env.value("kmodguard_attempts") == "1")
        #expect(try root.grubenvBytes().count == 1024)
    }

    @Test func kernelWithoutTheModuleReportsNotFoundAndFallsBack() throws {
        let root = try ScratchRoot(config: "MODULES=\(Integration.fixture.module)\n", newTreeWithoutModule: true)
        defer { root.remove() }
        let result = try guardRun(root, kernel: root.new)
        #expect(result.status == 1, "\(result.stderrText)")
        #expect(result.stderrText.contains("kmodguard: module \(root.module): not found"))
        #expect(try root.grubenv().value("next_entry") == (try root.entryPath(root.old)))
        #expect(try root.grubenv().value("kmodguard_reason") == "\(root.module): not found")
    }

    @Test func unknownModuleEverywhereMeansNoCandidate() throws {
        let root = try ScratchRoot(config: "MODULES=kmodguard_no_such_module\n")
        defer { root.remove() }
        let before = try root.grubenvBytes()
        let result = try guardRun(root, kernel: root.new)
        #expect(result.status == 2, "\(result.stderrText)")
        #expect(result.stderrText.contains("GIVING UP: no other installed kernel has the guarded modules"))
        #expect(try root.grubenvBytes() == before)
    }

    @Test func lastGoodFromGrubenvIsUsedAndAttemptsLimitHolds() throws {
        let root = try ScratchRoot(config: "MODULES=\(Integration.fixture.module)\nMAX_ATTEMPTS=2\n",
                                   grubenv: ["kmodguard_last_good": Integration.fixture.old, "kmodguard_attempts": "1"])
        defer { root.remove() }
        let first = try guardRun(root, kernel: root.new)
        #expect(first.status == 1, "\(first.stderrText)")
        #expect(first.stderrText.contains("(last good)"))
        #expect(try root.grubenv().value("kmodguard_attempts") == "2")
        let afterFirst = try root.grubenvBytes()
        let second = try guardRun(root, kernel: root.new)
        #expect(second.status == 2, "\(second.stderrText)")
        #expect(second.stderrText.contains("GIVING UP: 2 fallbacks in a row"))
        #expect(try root.grubenvBytes() == afterFirst)
    }

    @Test func noWriteChangesNothingAndLogsTheSameDecision() throws {
        let written = try ScratchRoot(config: "MODULES=\(Integration.fixture.module)\n")
        let dry = try ScratchRoot(config: "MODULES=\(Integration.fixture.module)\n")
        defer { written.remove(); dry.remove() }
        let before = try dry.grubenvBytes()
        let normal = try guardRun(written, kernel: written.new)
        let noWrite = try guardRun(dry, kernel: dry.new, ["--dry-run", "--no-reboot", "--no-write"])
        #expect(normal.status == noWrite.status)
        #expect(try dry.grubenvBytes() == before)
        let strip = { (text: String) in
            text.split(separator: "\n").filter { !$0.contains("--no-write") }
                .map { $0.replacingOccurrences(of: written.path, with: "ROOT").replacingOccurrences(of: dry.path, with: "ROOT") }
        }
        #expect(strip(normal.stderrText) == strip(noWrite.stderrText))
    }

    @Test func brokenConfigExits4AndNamesTheLine() throws {
        let root = try ScratchRoot(config: "MODULES=\(Integration.fixture.module)\nWAIT_TIMOUT=5\n")
        defer { root.remove() }
        let before = try root.grubenvBytes()
        let result = try guardRun(root, kernel: root.new)
        #expect(result.status == 4)
        #expect(result.stderrText.contains("kmodguard.conf:2: unknown key WAIT_TIMOUT"))
        #expect(try root.grubenvBytes() == before)
    }

    @Test func runsWithoutProcAndWithEmptyEnvironment() throws {
        let root = try ScratchRoot(config: "MODULES=\(Integration.fixture.module)\n")
        defer { root.remove() }
        // A private mount namespace with /proc unmounted: the Embedded guard needs no runtime path.
        let script = "umount -l /proc && test ! -e /proc/self && exec env -i \"$0\" \"$@\""
        let result = try TestProcess.run("/usr/bin/unshare", ["--mount", "--propagation", "private", "/bin/sh", "-c", script, Integration.early,
                                                  "--root", root.path, "--kernel", root.new, "--log", "stderr", "--dry-run", "--no-reboot"])
        #expect(result.status == 1, "\(result.stderrText)")
        #expect(result.stderrText.contains("vermagic mismatch"))
        #expect(try root.grubenv().value("kmodguard_failed") == root.new)
    }

    @Test func isStaticSmallAndDocumentsExitCodes() throws {
        let ldd = try TestProcess.run("/usr/bin/ldd", [Integration.early])
        #expect(ldd.stdoutText.contains("not a dynamic executable") || ldd.stderrText.contains("not a dynamic executable"))
        let size = try FileManager.default.attributesOfItem(atPath: Integration.early)[.size] as? Int ?? Int.max
        #expect(size <= 2_000_000, "kmodguard-early is \(size) bytes")
        let help = try TestProcess.run(Integration.early, ["--help"], environment: [:])
        #expect(help.status == 0)
        #expect(help.stdoutText.contains("Exit status:"))
        let bad = try TestProcess.run(Integration.early, ["--frobnicate"], environment: [:])
        #expect(bad.status == 64)
        #expect(bad.stderrText.contains("unknown argument '--frobnicate'"))
    }
}

@Suite struct IntegrationInputsTests {
    @Test func integrationInputsArePresentWhenRequired() {
        if Integration.required {
            #expect(Integration.available, "KMODGUARD_REQUIRE_INTEGRATION=1 but \(Integration.early) or \(Integration.fixtureRoot)/.kmodguard-fixture is missing")
        }
    }
}
