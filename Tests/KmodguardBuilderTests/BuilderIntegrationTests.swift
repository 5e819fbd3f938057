import Foundation
@testable import KmodguardBuilder
import KmodguardCompletion
import KmodguardCore
import KmodguardTestSupport
import Testing

/// Real builds of the repository's fixture module against the real headers of the two fixture
/// kernels, installed into a scratch root and checked with the real guard. No compiler mocks.
/// Serialized: each test compiles, and parallel compiles only slow each other down.
@Suite(.serialized, .enabled(if: BuilderInputs.fixtureAvailable || BuilderInputs.required,
                             "needs KMODGUARD_FIXTURE_ROOT (scripts/fixture-kernels) and linux-headers for both fixture kernels"))
struct BuilderIntegrationTests {
    func builder(_ root: BuilderScratchRoot) -> DriverBuilder {
        var builder = DriverBuilder(root: root.systemRoot)
        builder.timeoutSeconds = 600
        return builder
    }

    @Test func fixtureModuleBuildsInstallsAndPassesTheGuardForBothKernels() throws {
        try BuilderInputs.requireFixture()
        let root = try BuilderScratchRoot()
        defer { root.remove() }
        let source = try DriverSource.locate(BuilderInputs.fixtureModuleSource)
        #expect(source.name == "kmodguard-fixture" && source.version == "1.0")
        for kernel in [root.old, root.new] {
            let release = try root.release(kernel)
            let output = try builder(root).build(source, for: release)
            #expect(output.modules.map(\.name) == [root.module])
            #expect(output.modules.first?.vermagic.hasPrefix(kernel + " SMP") == true)
            #expect(output.buildDirectory == root.path + "/var/lib/kmodguard/build/kmodguard-fixture-1.0-" + kernel
                + "/kmodguard-fixture/1.0/build")
            #expect(output.log == root.path + "/var/lib/kmodguard/logs/kmodguard-fixture-1.0-" + kernel + ".log")
            // Built as nobody, in the DKMS-shaped scratch tree.
            let attributes = try FileManager.default.attributesOfItem(atPath: try #require(output.modules.first).path)
            #expect((attributes[.ownerAccountID] as? NSNumber)?.intValue == 65534)

            let installed = try ModuleInstaller.install(output, kernel: release, root: root.systemRoot)
            #expect(installed == [root.installDirectory(kernel) + "/" + root.module + ".ko"])
            let dep = try String(contentsOfFile: root.path + "/lib/modules/" + kernel + "/modules.dep", encoding: .utf8)
            #expect(dep.contains("updates/kmodguard/" + root.module + ".ko:"))
        }
        for kernel in [root.old, root.new] {
            let result = try root.runGuard(kernel: kernel, modules: [root.module])
            #expect(result.status == 0, "kmodguard-early on \(kernel): \(result.stderr)")
            #expect(result.stderr.contains("module \(root.module): resolves and matches \(kernel)"), "\(result.stderr)")
        }
    }

    @Test func compileErrorNamesTheFirstErrorAndInstallsNothing() throws {
        try BuilderInputs.requireFixture()
        let root = try BuilderScratchRoot(kernels: [BuilderInputs.kernels.new])
        let source = try BuilderSourceCopy(of: BuilderInputs.fixtureModuleSource)
        defer { root.remove(); source.remove() }
        try source.edit("kmodguard_fixture.c", replacing: "\treturn 0;", with: "\treturn kmodguard_undeclared;")
        let line = try #require(try source.read("kmodguard_fixture.c").split(separator: "\n", omittingEmptySubsequences: false)
            .firstIndex { $0.contains("kmodguard_undeclared") }) + 1
        let error = try #require(try buildError(root, source), "a broken source built")
        guard case .compileFailed(let firstError, let log) = error else { Issue.record("expected compileFailed, got \(error)"); return }
        #expect(firstError == "kmodguard_fixture.c:\(line):16: error: 'kmodguard_undeclared' undeclared (first use in this function)")
        #expect(log == root.path + "/var/lib/kmodguard/logs/kmodguard-fixture-1.0-" + root.new + ".log")
        #expect(try String(contentsOfFile: log, encoding: .utf8).contains("Error 1"))
        #expect(!error.isSkip && error.exitCode == 1)
        #expect(error.description.contains(log))
        #expect(root.installed(root.new).isEmpty)
    }

    @Test func missingHeadersNameThePackageAndInstallNothing() throws {
        try BuilderInputs.requireFixture()
        let root = try BuilderScratchRoot(kernels: [BuilderInputs.kernels.old])
        defer { root.remove() }
        // An installed kernel whose headers are not: its module tree without `build`.
        let kernel = "6.1.0-1-cloud-amd64"
        try FileManager.default.createDirectory(atPath: root.path + "/lib/modules/" + kernel + "/kernel", withIntermediateDirectories: true)
        let driver = try DriverSource.locate(BuilderInputs.fixtureModuleSource)
        let error = try #require(try failure(root, driver, kernel))
        guard case .headersMissing(let release, let package, let path) = error else { Issue.record("\(error)"); return }
        #expect(release.string == kernel)
        #expect(package == "linux-headers-" + kernel)
        #expect(path == root.path + "/lib/modules/" + kernel + "/build")
        #expect(error.description.contains("apt-get install linux-headers-" + kernel))
        #expect(!error.isSkip)
        #expect(root.installed(kernel).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: root.path + "/var/lib/kmodguard/build/kmodguard-fixture-1.0-" + kernel))

        // Without headers there is no kernel config either: BUILD_EXCLUSIVE_CONFIG cannot be
        // checked, and the missing headers are what to report (not a skip).
        let source = try BuilderSourceCopy(of: BuilderInputs.fixtureModuleSource)
        defer { source.remove() }
        try source.write("dkms.conf", try source.read("dkms.conf") + "BUILD_EXCLUSIVE_CONFIG=\"CONFIG_ACPI\"\n")
        let configured = try #require(try buildError(root, source, kernel: kernel))
        guard case .headersMissing = configured else { Issue.record("\(configured)"); return }
    }

    @Test func excludedKernelIsASkipNotAFailure() throws {
        try BuilderInputs.requireFixture()
        let root = try BuilderScratchRoot(kernels: [BuilderInputs.kernels.new])
        let source = try BuilderSourceCopy(of: BuilderInputs.fixtureModuleSource)
        defer { root.remove(); source.remove() }
        let conf = try source.read("dkms.conf")
        let release = try root.release(root.new)

        try source.write("dkms.conf", conf + "BUILD_EXCLUSIVE_KERNEL=\"^5\\.(4|10)\\.\"\n")
        let byKernel = try #require(try buildError(root, source))
        #expect(byKernel.isSkip && byKernel.exitCode == 77)
        guard case .excluded(.kernel(let pattern)) = byKernel else { Issue.record("\(byKernel)"); return }
        #expect(pattern == "^5\\.(4|10)\\.")
        #expect(byKernel.description.contains("BUILD_EXCLUSIVE_KERNEL=\"^5\\.(4|10)\\.\" does not match"))

        try source.write("dkms.conf", conf + "BUILD_EXCLUSIVE_CONFIG=\"CONFIG_ACPI CONFIG_KMODGUARD_NO_SUCH_OPTION\"\n")
        guard case .excluded(.configMissing("CONFIG_KMODGUARD_NO_SUCH_OPTION")) = try #require(try buildError(root, source)) else {
            Issue.record("expected a config exclusion"); return
        }
        try source.write("dkms.conf", conf + "BUILD_EXCLUSIVE_CONFIG=\"!CONFIG_VIRTIO_BLK\"\n")
        guard case .excluded(.configPresent("CONFIG_VIRTIO_BLK")) = try #require(try buildError(root, source)) else {
            Issue.record("expected a config exclusion"); return
        }
        #expect(root.installed(root.new).isEmpty)

        // A matching rule builds (ERE with alternation and a bracket expression, as bash's =~).
        try source.write("dkms.conf", conf + "BUILD_EXCLUSIVE_KERNEL=\"^6\\.1\\.[0-9]+-[0-9]+-(cloud|rt)-amd64$\"\nBUILD_EXCLUSIVE_CONFIG=\"CONFIG_ACPI !CONFIG_KMODGUARD_NO_SUCH_OPTION\"\n")
        let output = try builder(root).build(try DriverSource.locate(source.path), for: release)
        #expect(output.modules.count == 1)
    }

    /// PRE_BUILD runs from the build directory, as the build user, after patches and before make
    /// (iptables-netflow's `./configure …`); POST_BUILD after the modules are built; a script that
    /// is not executable is skipped with a warning, as DKMS does.
    @Test func preBuildAndPostBuildScriptsRun() throws {
        try BuilderInputs.requireFixture()
        let root = try BuilderScratchRoot(kernels: [BuilderInputs.kernels.old])
        let source = try BuilderSourceCopy(of: BuilderInputs.fixtureModuleSource)
        defer { root.remove(); source.remove() }
        try source.write("gen.sh", """
            #!/bin/sh
            sed -i "s/kmodguard test fixture module/$1 by $(id -un)/" kmodguard_fixture.c

            """)
        try source.write("post.sh", "#!/bin/sh\ntouch post-build-ran\n")
        for script in ["gen.sh", "post.sh"] {
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: source.path + "/" + script)
        }
        let conf = try source.read("dkms.conf")
        try source.write("dkms.conf", conf + "PRE_BUILD=\"gen.sh generated\"\nPOST_BUILD=\"post.sh\"\n")
        let output = try builder(root).build(try DriverSource.locate(source.path), for: try root.release(root.old))
        let module = try #require(output.modules.first).path
        let user = geteuid() == 0 ? "nobody" : try runBuilderTool("/usr/bin/id", ["-un"]).stdout.trimmingCharacters(in: .newlines)
        #expect(try runBuilderTool("/sbin/modinfo", ["-F", "description", module]).stdout == "generated by " + user + "\n")
        #expect(FileManager.default.fileExists(atPath: output.buildDirectory + "/post-build-ran"))

        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: source.path + "/gen.sh")
        let plain = try builder(root).build(try DriverSource.locate(source.path), for: try root.release(root.old))
        #expect(try runBuilderTool("/sbin/modinfo", ["-F", "description", try #require(plain.modules.first).path]).stdout
            == "kmodguard test fixture module\n")
        #expect(DriverBuilder.readLog(plain.log).contains("the PRE_BUILD script " + plain.buildDirectory + "/gen.sh is not executable"))
    }

    /// A MAKE that uses DKMS's fixed paths instead of its variables (west-chamber's: compile in
    /// `/usr/src/NAME-VERSION`, move the modules to `/var/lib/dkms/NAME/VERSION/build`) builds
    /// as root, as under DKMS — in the scratch copy, with nothing written to the real paths.
    @Test(.enabled(if: geteuid() == 0, "mounts: root only"))
    func makeWithDkmsFixedPathsBuildsInTheCopy() throws {
        try BuilderInputs.requireFixture()
        let root = try BuilderScratchRoot(kernels: [BuilderInputs.kernels.old])
        let source = try BuilderSourceCopy(of: BuilderInputs.fixtureModuleSource)
        defer { root.remove(); source.remove() }
        let name = "kmodguard-view-" + String(getpid())
        let sourcePath = "/usr/src/" + name + "-1.0", dkmsPath = "/var/lib/dkms/" + name
        #expect(!FileManager.default.fileExists(atPath: sourcePath) && !FileManager.default.fileExists(atPath: dkmsPath))
        try source.write("dkms.conf", """
            PACKAGE_NAME="\(name)"
            PACKAGE_VERSION="1.0"
            PSRC="/usr/src/${PACKAGE_NAME}-${PACKAGE_VERSION}"
            PDEST="/var/lib/dkms/${PACKAGE_NAME}/${PACKAGE_VERSION}/build"
            MAKE="make -C ${PSRC} KDIR=${kernel_source_dir} modules && mkdir -p ${PDEST}/out && find ${PSRC} -name '*.ko' -exec mv {} ${PDEST}/out \\;"
            BUILT_MODULE_NAME[0]="kmodguard_fixture"
            BUILT_MODULE_LOCATION[0]="out/"
            DEST_MODULE_LOCATION[0]="/updates"

            """)
        let output = try builder(root).build(try DriverSource.locate(source.path), for: try root.release(root.old))
        #expect(output.modules.map(\.path) == [output.buildDirectory + "/out/kmodguard_fixture.ko"])
        #expect(output.modules.first?.vermagic.hasPrefix(root.old + " ") == true)
        // The real paths were never created, the source was never written.
        #expect(!FileManager.default.fileExists(atPath: sourcePath) && !FileManager.default.fileExists(atPath: dkmsPath))
        #expect(try FileManager.default.contentsOfDirectory(atPath: source.path).sorted()
            == ["Makefile", "dkms.conf", "kmodguard_fixture.c"])

        // Without the view the same MAKE cannot build (nothing at /usr/src/NAME-1.0 for nobody).
        var plain = builder(root)
        plain.showsDkmsPaths = false
        #expect(throws: BuildFailure.self) { try plain.build(try DriverSource.locate(source.path), for: try root.release(root.old)) }
    }

    @Test func patchesApplyWhenPatchMatchMatches() throws {
        try BuilderInputs.requireFixture()
        let root = try BuilderScratchRoot(kernels: [BuilderInputs.kernels.old])
        let source = try BuilderSourceCopy(of: BuilderInputs.fixtureModuleSource)
        defer { root.remove(); source.remove() }
        let original = try source.read("kmodguard_fixture.c")
        try source.write("patches/description.patch", Self.unifiedDiff(original,
            replacing: "MODULE_DESCRIPTION(\"kmodguard test fixture module\");",
            with: "MODULE_DESCRIPTION(\"patched for 6.1\");"))
        try source.write("patches/never.patch", Self.unifiedDiff(original,
            replacing: "MODULE_AUTHOR(\"kmodguard developers\");", with: "MODULE_AUTHOR(\"not applied\");"))
        let conf = try source.read("dkms.conf")
        try source.write("dkms.conf", conf + """
            PATCH[0]="description.patch"
            PATCH_MATCH[0]="^6\\.1\\."
            PATCH[1]="never.patch"
            PATCH_MATCH[1]="^5\\."

            """)
        let output = try builder(root).build(try DriverSource.locate(source.path), for: try root.release(root.old))
        let module = try #require(output.modules.first).path
        #expect(try runBuilderTool("/sbin/modinfo", ["-F", "description", module]).stdout == "patched for 6.1\n")
        #expect(try runBuilderTool("/sbin/modinfo", ["-F", "author", module]).stdout == "kmodguard developers\n")
        // The source tree itself is untouched: patches apply to the scratch copy.
        #expect(try source.read("kmodguard_fixture.c") == original)

        try source.write("dkms.conf", conf + "PATCH[0]=\"missing.patch\"\n")
        let missing = try #require(try buildError(root, source, kernel: root.old))
        guard case .patchMissing(let file, let path) = missing else { Issue.record("\(missing)"); return }
        #expect(file == "missing.patch" && path == source.path + "/patches/missing.patch")

        try source.write("dkms.conf", conf + "PATCH[0]=\"never.patch\"\n")
        try source.write("patches/never.patch", "--- a/kmodguard_fixture.c\n+++ b/kmodguard_fixture.c\n@@ -1,1 +1,1 @@\n-no such line\n+x\n")
        guard case .patchFailed(let failed, _) = try #require(try buildError(root, source, kernel: root.old)) else {
            Issue.record("expected patchFailed"); return
        }
        #expect(failed == "never.patch")
    }

    @Test func plainKbuildTreeInstallsWhatModulesOrderLists() throws {
        try BuilderInputs.requireFixture()
        let root = try BuilderScratchRoot(kernels: [BuilderInputs.kernels.old])
        let source = try BuilderSourceCopy(of: BuilderInputs.fixtureModuleSource)
        defer { root.remove(); source.remove() }
        try FileManager.default.removeItem(atPath: source.path + "/dkms.conf")
        let driver = try DriverSource.locate(source.path)
        guard case .kbuild = driver.kind else { Issue.record("\(driver.kind)"); return }
        // Named after the directory (`kmod-fixture`: no `-VERSION` part).
        #expect(driver.name == "kmod-fixture" && driver.version == "0")
        let output = try builder(root).build(driver, for: try root.release(root.old))
        #expect(output.modules.map(\.name) == [root.module])
        #expect(try ModuleInstaller.install(output, kernel: try root.release(root.old), root: root.systemRoot).count == 1)
        #expect(root.installed(root.old) == [root.module + ".ko"])
    }

    @Test func installIsIdempotentAndLeavesNoStagedFiles() throws {
        try BuilderInputs.requireFixture()
        let root = try BuilderScratchRoot(kernels: [BuilderInputs.kernels.old])
        defer { root.remove() }
        let release = try root.release(root.old)
        let output = try builder(root).build(try DriverSource.locate(BuilderInputs.fixtureModuleSource), for: release)
        let first = try ModuleInstaller.install(output, kernel: release, root: root.systemRoot)
        let dep = root.path + "/lib/modules/" + root.old + "/modules.dep"
        let inode = try FileManager.default.attributesOfItem(atPath: try #require(first.first))[.systemFileNumber] as? NSNumber
        let depDate = try FileManager.default.attributesOfItem(atPath: dep)[.modificationDate] as? Date
        let second = try ModuleInstaller.install(output, kernel: release, root: root.systemRoot)
        #expect(first == second)
        // Identical bytes: nothing rewritten, depmod not rerun.
        #expect(try FileManager.default.attributesOfItem(atPath: try #require(second.first))[.systemFileNumber] as? NSNumber == inode)
        #expect(try FileManager.default.attributesOfItem(atPath: dep)[.modificationDate] as? Date == depDate)
        #expect(root.installed(root.old) == [root.module + ".ko"])

        // A removed modules.dep entry (interrupted before depmod) is repaired by the next install.
        try runBuilderTool("/bin/sh", ["-c", "grep -v kmodguard_fixture '\(dep)' > '\(dep).new' && mv '\(dep).new' '\(dep)'"])
        _ = try ModuleInstaller.install(output, kernel: release, root: root.systemRoot)
        #expect(try String(contentsOfFile: dep, encoding: .utf8).contains("updates/kmodguard/kmodguard_fixture.ko:"))
    }

    @Test func secondBuildReplacesTheScratchTree() throws {
        try BuilderInputs.requireFixture()
        let root = try BuilderScratchRoot(kernels: [BuilderInputs.kernels.old])
        defer { root.remove() }
        let release = try root.release(root.old)
        let source = try DriverSource.locate(BuilderInputs.fixtureModuleSource)
        let first = try builder(root).build(source, for: release)
        try Data("stale".utf8).write(to: URL(fileURLWithPath: first.buildDirectory + "/stale-file"))
        let second = try builder(root).build(source, for: release)
        #expect(second.buildDirectory == first.buildDirectory)
        #expect(!FileManager.default.fileExists(atPath: second.buildDirectory + "/stale-file"))
    }

    @Test func timeoutKillsTheWholeBuild() throws {
        try BuilderInputs.requireFixture()
        let root = try BuilderScratchRoot(kernels: [BuilderInputs.kernels.old])
        let source = try BuilderSourceCopy(of: BuilderInputs.fixtureModuleSource)
        defer { root.remove(); source.remove() }
        // make runs a child that would outlive its parent if only make were killed.
        try source.write("dkms.conf", try source.read("dkms.conf").replacingOccurrences(
            of: "MAKE[0]=\"make KVER=$kernelver\"", with: "MAKE[0]=\"sh -c 'sleep 317; echo survived > $build_dir/survivor' & wait\""))
        var builder = builder(root)
        builder.timeoutSeconds = 2
        let driver = try DriverSource.locate(source.path)
        let release = try root.release(root.old)
        let start = Date()
        do {
            _ = try builder.build(driver, for: release)
            Issue.record("the build was not stopped")
        } catch {
            guard case .timedOut(let seconds, _) = error else { Issue.record("\(error)"); return }
            #expect(seconds == 2)
        }
        #expect(Date().timeIntervalSince(start) < 30)
        #expect(try runBuilderTool("/usr/bin/pgrep", ["-f", "sleep 317"], check: false).status == 1, "a build process survived the timeout")
    }

    @Test func workspaceTheBuildUserCannotReachIsNamed() throws {
        try BuilderInputs.requireFixture()
        let root = try BuilderScratchRoot(kernels: [BuilderInputs.kernels.old])
        defer { root.remove() }
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: root.path)
        let error = try #require(try failure(root, try DriverSource.locate(BuilderInputs.fixtureModuleSource), root.old))
        guard case .workspaceUnreachable(_, let blockedBy, let uid) = error else { Issue.record("\(error)"); return }
        #expect(blockedBy == root.path && uid == 65534)
        #expect(error.description.contains("chmod o+x " + root.path))
    }

    // MARK: helpers

    func buildError(_ root: BuilderScratchRoot, _ source: BuilderSourceCopy, kernel: String? = nil) throws -> BuildFailure? {
        try failure(root, try DriverSource.locate(source.path), kernel ?? root.new)
    }

    /// The build's failure, or nil if it built.
    func failure(_ root: BuilderScratchRoot, _ driver: DriverSource, _ kernel: String) throws -> BuildFailure? {
        let release = try root.release(kernel)
        do {
            _ = try builder(root).build(driver, for: release)
            return nil
        } catch {
            return error
        }
    }

    /// A one-line change of `text` as a `patch -p1` unified diff with three lines of context.
    static func unifiedDiff(_ text: String, replacing old: String, with new: String) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        guard let index = lines.firstIndex(of: old) else { return "" }
        let start = max(0, index - 3)
        let end = min(lines.count - 1, index + 3)
        let before = Array(lines[start...end])
        var hunk = "@@ -\(start + 1),\(before.count) +\(start + 1),\(before.count) @@\n"
        for (offset, line) in before.enumerated() {
            if start + offset == index {
                hunk += "-" + old + "\n+" + new + "\n"
            } else {
                hunk += " " + line + "\n"
            }
        }
        return "--- a/kmodguard_fixture.c\n+++ b/kmodguard_fixture.c\n" + hunk
    }
}
