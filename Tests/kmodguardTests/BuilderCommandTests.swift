import Foundation
@testable import kmodguard
import KmodguardCore
import KmodguardTestSupport
import Testing

/// `kmodguard build` as people run it: the real binary, real builds, its exit statuses
/// (0 built, 77 excluded, 1 failed) and messages.
@Suite(.serialized, .enabled(if: BuilderInputs.fixtureAvailable || BuilderInputs.required,
                             "needs KMODGUARD_FIXTURE_ROOT (scripts/fixture-kernels) and linux-headers for both fixture kernels"))
struct BuilderCommandTests {
    func kmodguard(_ root: BuilderScratchRoot, _ arguments: [String]) throws -> BuilderToolResult {
        let binary = try #require(TestProcess.kmodguard())
        return try runBuilderTool(binary, ["--root", root.path, "build"] + arguments, check: false)
    }

    @Test func outCopiesTheModulesAndInstallsNothing() throws {
        try BuilderInputs.requireFixture()
        let root = try BuilderScratchRoot(kernels: [BuilderInputs.kernels.new])
        defer { root.remove() }
        let out = root.path + "/out"
        let result = try kmodguard(root, ["--kernel", root.new, "--source", BuilderInputs.fixtureModuleSource, "--out", out])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("built kmodguard-fixture 1.0 for " + root.new + " in "))
        #expect(result.stdout.contains("copied " + out + "/kmodguard_fixture.ko\n"))
        #expect(try runBuilderTool("/sbin/modinfo", ["-F", "vermagic", out + "/kmodguard_fixture.ko"]).stdout.hasPrefix(root.new + " SMP"))
        #expect(root.installed(root.new).isEmpty)
    }

    @Test func sourceFromTheConfigurationIsInstalled() throws {
        try BuilderInputs.requireFixture()
        let root = try BuilderScratchRoot(kernels: [BuilderInputs.kernels.old])
        defer { root.remove() }
        try FileManager.default.createDirectory(atPath: root.path + "/usr/src", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: BuilderInputs.fixtureModuleSource, toPath: root.path + "/usr/src/kmodguard-fixture-1.0")
        try Data("MODULES=kmodguard_fixture\nSOURCE=/usr/src/kmodguard-fixture-1.0\n".utf8)
            .write(to: URL(fileURLWithPath: root.path + "/etc/kmodguard/kmodguard.conf"))
        let result = try kmodguard(root, ["--kernel", root.old])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("installed " + root.installDirectory(root.old) + "/kmodguard_fixture.ko\n"))
        #expect(root.installed(root.old) == ["kmodguard_fixture.ko"])
    }

    @Test func exitStatusesTellSkipFromFailure() throws {
        try BuilderInputs.requireFixture()
        let root = try BuilderScratchRoot(kernels: [BuilderInputs.kernels.new])
        let source = try BuilderSourceCopy(of: BuilderInputs.fixtureModuleSource)
        defer { root.remove(); source.remove() }
        let conf = try source.read("dkms.conf")

        try source.write("dkms.conf", conf + "BUILD_EXCLUSIVE_ARCH=\"^aarch64$\"\n")
        let excluded = try kmodguard(root, ["--kernel", root.new, "--source", source.path])
        #expect(excluded.status == 77, "\(excluded.stderr)")
        #expect(excluded.stdout.contains("skipped: BUILD_EXCLUSIVE_ARCH=\"^aarch64$\" does not match x86_64"))

        try source.write("dkms.conf", conf)
        try source.edit("kmodguard_fixture.c", replacing: "\treturn 0;", with: "\treturn kmodguard_undeclared;")
        let failed = try kmodguard(root, ["--kernel", root.new, "--source", source.path, "--timeout", "600"])
        #expect(failed.status == 1)
        #expect(failed.stderr.contains("failed: compile failed: kmodguard_fixture.c:"))
        #expect(failed.stderr.contains("error: 'kmodguard_undeclared' undeclared"))
        #expect(failed.stderr.contains("full log: " + root.path + "/var/lib/kmodguard/logs/kmodguard-fixture-1.0-" + root.new + ".log"))
        #expect(root.installed(root.new).isEmpty)

        let headers = try kmodguard(root, ["--kernel", "6.1.0-1-cloud-amd64", "--source", source.path])
        #expect(headers.status == 1)
        #expect(headers.stderr.contains("apt-get install linux-headers-6.1.0-1-cloud-amd64"))

        let unconfigured = try kmodguard(root, ["--kernel", root.new])
        #expect(unconfigured.status == 1)
        #expect(unconfigured.stderr.contains("pass --source DIR or set SOURCE="))

        let badTimeout = try kmodguard(root, ["--kernel", root.new, "--source", source.path, "--timeout", "0"])
        #expect(badTimeout.status == 64)
    }
}
