import Foundation
@testable import KmodguardBuilder
import KmodguardCompletion
import KmodguardCore
import KmodguardTestSupport
import Testing

/// The builder's pure parts: source detection, the DKMS script and process chain it runs,
/// modules.order, messages. (The builds themselves: BuilderIntegrationTests; ERE matching:
/// KmodguardSystemTests.)
@Suite struct BuilderUnitTests {
    @Test(arguments: [
        ("dm-writeboost-2.2.17", "dm-writeboost", "2.2.17"),
        ("virtio_blk-6.1.192-2", "virtio_blk", "6.1.192-2"),
        ("acpi-call-1.2.2", "acpi-call", "1.2.2"),
        ("kmod-fixture", "kmod-fixture", "0"),
        ("driver", "driver", "0"),
        ("-1", "-1", "0"),
    ])
    func directoryNamesSplitIntoNameAndVersion(_ base: String, _ name: String, _ version: String) {
        let split = DriverSource.splitNameVersion(base)
        #expect(split.0 == name && split.1 == version)
    }

    @Test(arguments: [
        ("/usr/src/driver-1.0", "/usr/src/driver-1.0"),
        ("/usr/src/./driver-1.0/", "/usr/src/driver-1.0"),
        ("/usr//src/x/../driver-1.0", "/usr/src/driver-1.0"),
        ("/../usr", "/usr"),
        ("/", "/"),
    ])
    func aMissingSourcePathIsStandardizedWithoutTheDisk(_ path: String, _ expected: String) {
        #expect(DriverSource.standardized(path) == expected)
    }

    @Test func sourceDetection() throws {
        let directory = try BuilderTemporaryDirectory()
        defer { directory.remove() }
        #expect(throws: DriverSourceError.notFound(directory.path + "/missing")) { try DriverSource.locate(directory.path + "/missing") }
        let empty = try directory.make("empty-1.0")
        #expect(throws: DriverSourceError.notADriverSource(empty)) { try DriverSource.locate(empty) }

        let kbuild = try directory.make("mydrv-2.0")
        try directory.write(kbuild + "/Kbuild", "obj-m := mydrv.o\n")
        let source = try DriverSource.locate(kbuild)
        #expect(source.name == "mydrv" && source.version == "2.0" && source.declaredModules.isEmpty)

        let makefile = try directory.make("other")
        try directory.write(makefile + "/Makefile", "obj-$(CONFIG_OTHER) += other.o\n")
        #expect(try DriverSource.locate(makefile).name == "other")

        let noName = try directory.make("noname")
        try directory.write(noName + "/dkms.conf", "PACKAGE_VERSION=1\nBUILT_MODULE_NAME[0]=x\nDEST_MODULE_LOCATION=/extra\n")
        #expect(throws: DriverSourceError.invalidConfig(file: noName + "/dkms.conf", DkmsConfigError(problems: ["no PACKAGE_NAME"]))) {
            try DriverSource.locate(noName)
        }

        let hostile = try directory.make("hostile")
        try directory.write(hostile + "/dkms.conf", "PACKAGE_NAME=../../etc\nPACKAGE_VERSION=1\nDEST_MODULE_LOCATION=/extra\n")
        #expect(throws: DriverSourceError.invalidName(field: "PACKAGE_NAME", value: "../../etc", file: hostile + "/dkms.conf")) {
            try DriverSource.locate(hostile)
        }
        try directory.write(hostile + "/dkms.conf", "PACKAGE_NAME=x\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME[0]=x\nBUILT_MODULE_LOCATION[0]=../..\nDEST_MODULE_LOCATION=/extra\n")
        #expect(throws: DriverSourceError.invalidName(field: "BUILT_MODULE_LOCATION", value: "../../", file: hostile + "/dkms.conf")) {
            try DriverSource.locate(hostile)
        }

        // Relative paths and symlinks resolve; the configured SOURCE is inside the root.
        try FileManager.default.createSymbolicLink(atPath: directory.path + "/link", withDestinationPath: kbuild)
        #expect(try DriverSource.locate(directory.path + "/link").directory == kbuild)
        var config = GuardConfig()
        config.source = "/mydrv-2.0"
        #expect(try DriverSource.configured(config, root: SystemRoot(directory.path)).directory == kbuild)
        #expect(throws: DriverSourceError.notConfigured(configFile: directory.path + "/etc/kmodguard/kmodguard.conf")) {
            try DriverSource.configured(GuardConfig(), root: SystemRoot(directory.path))
        }
        #expect(DriverSourceError.notConfigured(configFile: "/etc/kmodguard/kmodguard.conf").description
            == "no driver source: pass --source DIR or set SOURCE=/usr/src/NAME-VERSION in /etc/kmodguard/kmodguard.conf")
    }

    @Test func makeScriptDefinesDkmsVariablesWithoutExportingThem() throws {
        var config = DkmsConfig()
        config.packageName = "acpi-call"
        config.packageVersion = "1.2.2"
        config.modules = [DkmsModule(name: "acpi_call", builtLocation: "", destination: "/extra")]
        let source = DriverSource(directory: "/usr/src/acpi-call-1.2.2", name: "acpi-call", version: "1.2.2", kind: .dkms(config))
        let kernel = try #require(KernelRelease("6.1.0-56-cloud-amd64"))
        let builder = DriverBuilder(root: SystemRoot("/r"))
        let workspace = BuildWorkspace(source: source, kernel: kernel, workDirectory: "/r/var/lib/kmodguard/build",
                                       logDirectory: "/r/var/lib/kmodguard/logs")
        let headers = KernelHeaders(directory: "/usr/src/linux-headers-6.1.0-56-cloud-amd64")
        let script = builder.makeScript(source: source, kernel: kernel, headers: headers, workspace: workspace, architecture: "x86_64")
        let lines = script.split(separator: "\n").map(String.init)
        #expect(lines.contains("kernelver='6.1.0-56-cloud-amd64'"))
        #expect(lines.contains("kernel_source_dir='/usr/src/linux-headers-6.1.0-56-cloud-amd64'"))
        #expect(lines.contains("dkms_tree='/r/var/lib/kmodguard/build/acpi-call-1.2.2-6.1.0-56-cloud-amd64'"))
        #expect(lines.contains("source_tree='/usr/src'"))
        #expect(lines.contains("arch='x86_64'"))
        #expect(lines.contains("KERNELRELEASE='6.1.0-56-cloud-amd64'"))
        #expect(!script.contains("export"))
        // DKMS's default MAKE, which must land in the build directory.
        #expect(lines.last == #"make -C "$kernel_source_dir" M="$dkms_tree/$module/$module_version/build""#)
        #expect(workspace.buildDirectory == "/r/var/lib/kmodguard/build/acpi-call-1.2.2-6.1.0-56-cloud-amd64/acpi-call/1.2.2/build")

        config.make = "make -C ${kernel_source_dir} M=${dkms_tree}/${PACKAGE_NAME}/${PACKAGE_VERSION}/build"
        let custom = DriverSource(directory: source.directory, name: source.name, version: source.version, kind: .dkms(config))
        #expect(builder.makeScript(source: custom, kernel: kernel, headers: headers, workspace: workspace, architecture: "x86_64")
            .hasSuffix("\n" + config.make!))
        let kbuild = DriverSource(directory: "/src/x", name: "x", version: "0", kind: .kbuild)
        #expect(builder.makeScript(source: kbuild, kernel: kernel, headers: headers, workspace: workspace, architecture: "x86_64")
            .hasSuffix(#"make -C "$kernel_source_dir" M="$build_dir" modules"#))
        // The expanded script, run by a real shell, sees the values exactly.
        let echo = try runBuilderTool("/bin/sh", ["-c", script.replacingOccurrences(of: "\nmake -C", with: "\necho make -C")])
        #expect(echo.stdout == "make -C /usr/src/linux-headers-6.1.0-56-cloud-amd64 M="
            + workspace.buildDirectory + "\n")
        #expect(BuildProcess.shellQuoted("it's") == #"'it'\''s'"#)
    }

    @Test func processChainTakesTheInhibitorAsRootThenDropsPrivileges() {
        let process = BuildProcess(user: .nobody, inhibitor: "/usr/bin/systemd-inhibit",
                                   environment: BuildProcess.environment(home: "/w", jobs: 4, compiler: "gcc-12"))
        let command = process.command(["/bin/sh", "-c", "make"], in: "/w/b", log: "/l/x.log", timeoutSeconds: 60, why: "building x")
        #expect(command.executable == "/usr/bin/systemd-inhibit")
        #expect(command.arguments == [
            "--what=shutdown:sleep", "--who=kmodguard", "--why=building x", "--mode=block",
            "/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--no-new-privs", "--",
            "/usr/bin/env", "-i", "CC=gcc-12", "HOME=/w", "LANG=C", "LC_ALL=C", "MAKEFLAGS=-j4",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "PWD=/w/b",
            "/bin/sh", "-c", "make",
        ])
        #expect(command.user == nil)
        #expect(command.timeoutSeconds == 60 && command.workingDirectory == "/w/b" && command.logFile == "/l/x.log")
        // Short steps (patch, strip) take no inhibitor; an unprivileged caller builds as itself.
        let plain = BuildProcess(user: nil, inhibitor: "/usr/bin/systemd-inhibit", environment: [:])
            .command(["patch", "-p1"], in: "/b", log: "/l")
        #expect(plain.executable == "/usr/bin/env" && plain.arguments == ["-i", "PWD=/b", "patch", "-p1"])
    }

    /// As root the view's mounts come after the inhibitor (both need root) and before setpriv.
    @Test func processChainMountsTheDkmsPathViewBeforeDroppingPrivileges() throws {
        let source = DriverSource(directory: "/usr/src/west-chamber-1", name: "west-chamber", version: "1", kind: .kbuild)
        let workspace = BuildWorkspace(source: source, kernel: try #require(KernelRelease("6.1.0-56-cloud-amd64")),
                                       workDirectory: "/w", logDirectory: "/l")
        let view = DkmsPathView(name: source.name, version: source.version, workspace: workspace)
        #expect(view.targets == ["/usr/src/west-chamber-1", "/var/lib/dkms/west-chamber/1/build"])
        #expect(view.scratch == "/w/west-chamber-1-6.1.0-56-cloud-amd64/.view")
        let command = BuildProcess(user: .nobody, inhibitor: "/usr/bin/systemd-inhibit", environment: [:], view: view)
            .command(["make"], in: workspace.buildDirectory, log: "/l/x.log", why: "building")
        let arguments = [command.executable] + command.arguments
        let unshare = try #require(arguments.firstIndex(of: "/usr/bin/unshare"))
        let setpriv = try #require(arguments.firstIndex(of: "/usr/bin/setpriv"))
        #expect(arguments.first == "/usr/bin/systemd-inhibit" && unshare < setpriv)
        #expect(Array(arguments[unshare..<(unshare + 7)]) == ["/usr/bin/unshare", "--mount", "--propagation", "private", "--",
                                                               "/bin/sh", "-c"])
        #expect(Array(arguments[(unshare + 8)..<setpriv]) == ["kmodguard-view", workspace.buildDirectory, view.scratch,
                                                              "/usr/src/west-chamber-1", "/var/lib/dkms/west-chamber/1/build", "--"])
        #expect(arguments.last == "make")
    }

    @Test func modulesOrderOfOldAndNewKernels() {
        let text = "/b/x/a.ko\nkernel/sub/b.ko\n\nkernel/c.o\nd.ko\n"
        #expect(DriverBuilder.modulesOrder(text, buildDirectory: "/b/x") == ["/b/x/a.ko", "/b/x/sub/b.ko", "/b/x/c.ko", "/b/x/d.ko"])
    }

    @Test func compilerFromTheKernelConfig() {
        #expect(KernelHeaders.compiler(inConfig: Array("CONFIG_X=y\nCONFIG_CC_VERSION_TEXT=\"gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0\"\n".utf8))
            == "gcc-12")
        #expect(KernelHeaders.compiler(inConfig: Array("CONFIG_CC_VERSION_TEXT=\"\"\n".utf8)) == nil)
        #expect(KernelHeaders.compiler(inConfig: []) == nil)
    }

    @Test func failureMessagesNameTheCauseAndTheFix() throws {
        let kernel = try #require(KernelRelease("6.1.0-56-cloud-amd64"))
        let excluded = BuildFailure.excluded(.kernel(pattern: "^5"))
        #expect(excluded.isSkip && excluded.exitCode == 77 && excluded.log == nil)
        let headers = BuildFailure.headersMissing(kernel, package: "linux-headers-6.1.0-56-cloud-amd64", path: "/lib/modules/x/build")
        #expect(!headers.isSkip && headers.exitCode == 1)
        #expect(headers.description.hasSuffix("apt-get install linux-headers-6.1.0-56-cloud-amd64"))
        let compile = BuildFailure.compileFailed(firstError: "x.c:1:2: error: boom", log: "/var/lib/kmodguard/logs/x.log")
        #expect(compile.description == "compile failed: x.c:1:2: error: boom\nfull log: /var/lib/kmodguard/logs/x.log")
        #expect(compile.log == "/var/lib/kmodguard/logs/x.log")
        #expect(BuildFailure.compileFailed(firstError: nil, log: "/l").description.contains("see /l"))
        #expect(BuildFailure.workspaceUnreachable(path: "/r/w", blockedBy: "/r", uid: 65534).description.contains("chmod o+x /r"))
        #expect(InstallFailure.shadowed(module: "/lib/modules/k/updates/kmodguard/x.ko", by: "/lib/modules/k/updates/dkms/x.ko")
            .description.contains("resolves the module to /lib/modules/k/updates/dkms/x.ko"))
    }
}

/// A scratch directory for tests that need files but no kernel.
struct BuilderTemporaryDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("kmodguard-unit-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func make(_ name: String) throws -> String {
        try FileManager.default.createDirectory(atPath: path + "/" + name, withIntermediateDirectories: true)
        return path + "/" + name
    }

    func write(_ file: String, _ text: String) throws { try Data(text.utf8).write(to: URL(fileURLWithPath: file)) }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}
