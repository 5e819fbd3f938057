import KmodguardCore
import Testing

@Suite struct EarlyGuardTests {
    static let uuid = "3f1e2d4c-aaaa-bbbb-cccc-0123456789ab"
    let new = KernelRelease("6.1.0-56-cloud-amd64")!
    let old = KernelRelease("6.1.0-55-cloud-amd64")!
    let root = SystemRoot("/fx")

    static let grubConfig = """
    menuentry 'Debian GNU/Linux' --class debian $menuentry_id_option 'gnulinux-simple-\(uuid)' {
    \tlinux\t/boot/vmlinuz-6.1.0-56-cloud-amd64 root=UUID=\(uuid) ro
    }
    submenu 'Advanced options for Debian GNU/Linux' $menuentry_id_option 'gnulinux-advanced-\(uuid)' {
    \tmenuentry 'Debian GNU/Linux, with Linux 6.1.0-56-cloud-amd64' --class debian $menuentry_id_option 'gnulinux-6.1.0-56-cloud-amd64-advanced-\(uuid)' {
    \t\tlinux\t/boot/vmlinuz-6.1.0-56-cloud-amd64 root=UUID=\(uuid) ro
    \t}
    \tmenuentry 'Debian GNU/Linux, with Linux 6.1.0-55-cloud-amd64' --class debian $menuentry_id_option 'gnulinux-6.1.0-55-cloud-amd64-advanced-\(uuid)' {
    \t\tlinux\t/boot/vmlinuz-6.1.0-55-cloud-amd64 root=UUID=\(uuid) ro
    \t}
    \tmenuentry 'Debian GNU/Linux, with Linux 6.1.0-55-cloud-amd64 (recovery mode)' --class debian $menuentry_id_option 'gnulinux-6.1.0-55-cloud-amd64-recovery-\(uuid)' {
    \t\tlinux\t/boot/vmlinuz-6.1.0-55-cloud-amd64 root=UUID=\(uuid) ro single
    \t}
    }
    """
    var oldEntryPath: String { "gnulinux-advanced-\(Self.uuid)>gnulinux-6.1.0-55-cloud-amd64-advanced-\(Self.uuid)" }

    /// A machine where the new kernel lacks `virtio_blk` and the old one has it.
    func machine(grubenv: GrubEnvBlock = GrubEnvBlock()) -> FakeGuardPlatform {
        var platform = FakeGuardPlatform()
        platform.files["/fx/boot/vmlinuz-6.1.0-56-cloud-amd64"] = []
        platform.files["/fx/boot/vmlinuz-6.1.0-55-cloud-amd64"] = []
        platform.files["/fx/boot/grub/grub.cfg"] = Array(Self.grubConfig.utf8)
        platform.files["/fx/boot/grub/grubenv"] = grubenv.bytes
        platform.loadable[old] = ["virtio_blk"]
        platform.visibleTrees = [old, new]
        return platform
    }

    func config(_ text: String = "MODULES=virtio_blk") throws -> GuardConfig {
        try GuardConfig.parse(Array(text.utf8), file: "test.conf")
    }

    func run(_ platform: FakeGuardPlatform, _ config: GuardConfig, noWrite: Bool = false, noReboot: Bool = false)
        -> (GuardOutcome, FakeGuardPlatform) {
        var guardRun = EarlyGuard(platform: platform, root: root, kernel: new, dryRun: false, noWrite: noWrite, noReboot: noReboot)
        let outcome = guardRun.run(config: config)
        return (outcome, guardRun.platform)
    }

    func grubenv(_ platform: FakeGuardPlatform, _ path: String = "/fx/boot/grub/grubenv") throws -> GrubEnvBlock {
        try GrubEnvBlock(platform.files[path] ?? [])
    }

    @Test func happyPathWritesNothing() throws {
        var platform = machine()
        platform.loadable[new] = ["virtio_blk"]
        platform.devices = ["UUID=\(Self.uuid)"]
        let (outcome, after) = run(platform, try config("MODULES=virtio_blk\nWAIT_FOR=UUID=\(Self.uuid)"))
        #expect(outcome == .passed)
        #expect(outcome.exitCode == 0)
        #expect(after.writes.isEmpty)
        #expect(after.reboots == 0)
        // Only the tmpfs verdict for the post-boot service.
        #expect(after.runStates == ["/fx/run/kmodguard/early-result"])
        #expect(after.files["/fx/run/kmodguard/early-result"] == Array("outcome=passed\nkernel=6.1.0-56-cloud-amd64\n".utf8))
        var withoutVerdict = after.files
        withoutVerdict["/fx/run/kmodguard/early-result"] = nil
        #expect(withoutVerdict == platform.files)
    }

    @Test func missingModuleSchedulesLastGoodAndReboots() throws {
        var env = GrubEnvBlock()
        try env.set("kmodguard_last_good", old.string)
        let (outcome, after) = run(machine(grubenv: env), try config())
        #expect(outcome == .fallbackScheduled(old))
        #expect(outcome.exitCode == 1)
        let written = try grubenv(after)
        #expect(written.value("next_entry") == oldEntryPath)
        #expect(written.value("kmodguard_failed") == new.string)
        #expect(written.value("kmodguard_reason") == "virtio_blk: not found")
        #expect(written.value("kmodguard_attempts") == "1")
        #expect(written.value("kmodguard_last_good") == old.string)
        #expect(after.reboots == 1)
        #expect(after.logs.contains { $0.contains("module virtio_blk: not found") })
    }

    @Test func noLastGoodPicksNewestWorkingKernel() throws {
        let (outcome, after) = run(machine(), try config())
        #expect(outcome == .fallbackScheduled(old))
        #expect(try grubenv(after).value("next_entry") == oldEntryPath)
    }

    @Test func attemptsCountUpAndThenGiveUp() throws {
        var env = GrubEnvBlock()
        try env.set("kmodguard_attempts", "2")
        let (first, afterFirst) = run(machine(grubenv: env), try config())
        #expect(first == .fallbackScheduled(old))
        #expect(try grubenv(afterFirst).value("kmodguard_attempts") == "3")

        let (second, afterSecond) = run(afterFirst, try config())
        #expect(second == .gaveUp(.attemptsExceeded(attempts: 3, limit: 3)))
        #expect(second.exitCode == 2)
        var secondWithoutVerdict = afterSecond.files
        secondWithoutVerdict["/fx/run/kmodguard/early-result"] = afterFirst.files["/fx/run/kmodguard/early-result"]
        #expect(secondWithoutVerdict == afterFirst.files)
        #expect(afterSecond.files["/fx/run/kmodguard/early-result"] == Array("outcome=gave-up\nkernel=6.1.0-56-cloud-amd64\n".utf8))
        #expect(afterSecond.reboots == afterFirst.reboots)
        #expect(afterSecond.logs.contains { $0.hasPrefix("GIVING UP") })
    }

    @Test func noCandidateGivesUpWithoutWriting() throws {
        var platform = machine()
        platform.loadable[old] = []
        let (outcome, after) = run(platform, try config())
        #expect(outcome == .gaveUp(.noCandidate))
        #expect(after.writes.isEmpty)
        #expect(after.reboots == 0)
        #expect(after.logs.contains { $0.contains("not a fallback: 6.1.0-55-cloud-amd64: modules not in its tree: virtio_blk") })
        #expect(after.logs.contains { $0.contains("not a fallback: 6.1.0-56-cloud-amd64: it is the running kernel") })
    }

    @Test func continuePolicyNeverTouchesGrubenv() throws {
        let (outcome, after) = run(machine(), try config("MODULES=virtio_blk\nON_FAILURE=continue"))
        #expect(outcome == .gaveUp(.policyContinue))
        #expect(after.writes.isEmpty && after.reboots == 0)
    }

    @Test func noWriteAndNoRebootDecideTheSame() throws {
        let (normal, normalAfter) = run(machine(), try config())
        let (dry, dryAfter) = run(machine(), try config(), noWrite: true, noReboot: true)
        #expect(normal == dry)
        #expect(dryAfter.writes.isEmpty)
        #expect(dryAfter.reboots == 0)
        #expect(dryAfter.files == machine().files)
        #expect(dryAfter.runStates.isEmpty)
        #expect(normalAfter.files["/fx/run/kmodguard/early-result"] == Array("outcome=fallback-scheduled\nkernel=6.1.0-56-cloud-amd64\n".utf8))
        let decisionLines = { (logs: [String]) in logs.filter { !$0.hasPrefix("--no-") && $0 != "rebooting now" && !$0.hasPrefix("reboot failed") } }
        #expect(decisionLines(normalAfter.logs) == decisionLines(dryAfter.logs))
    }

    @Test func missingDeviceIsAFailure() throws {
        var platform = machine()
        platform.loadable[new] = ["virtio_blk"]
        let (outcome, after) = run(platform, try config("MODULES=virtio_blk\nWAIT_FOR=LABEL=root\nWAIT_TIMEOUT=2"))
        #expect(outcome == .fallbackScheduled(old))
        #expect(try grubenv(after).value("kmodguard_reason") == "device LABEL=root did not appear within 2s")
    }

    /// grubenv out of reach: reboot only when GRUB's marker says its next run differs.
    @Test(arguments: [
        ("BOOT_IMAGE=/vmlinuz ro kmodguard.boot=trial\n", true),
        ("BOOT_IMAGE=/vmlinuz ro kmodguard.boot=once\n", true),
        ("BOOT_IMAGE=/vmlinuz ro kmodguard.boot=\n", false),
        ("BOOT_IMAGE=/vmlinuz ro kmodguard.boot=pin\n", false),
        ("BOOT_IMAGE=/vmlinuz ro kmodguard.boot=fallback\n", false),
        ("BOOT_IMAGE=/vmlinuz ro\n", false),
        (nil, false),
    ] as [(String?, Bool)])
    func unreachableGrubenvRebootsOnlyWhenGrubRecordedATrial(commandLine: String?, reboots: Bool) throws {
        var platform = machine()
        platform.files["/fx/boot/grub/grubenv"] = nil
        platform.files["/fx/proc/cmdline"] = commandLine.map { Array($0.utf8) }
        let (outcome, after) = run(platform, try config())
        #expect(after.writes.isEmpty)
        if reboots {
            #expect(outcome == .grubenvUnreachable)
            #expect(outcome.exitCode == 3)
            #expect(after.reboots == 1)
            #expect(after.logs.contains { $0.contains("is not reachable: a reboot at once lets GRUB's trial counter boot the last good kernel") })
        } else {
            let marker = commandLine.flatMap { BootMarker.value(in: Array($0.utf8)) }
            #expect(outcome == .gaveUp(.rebootWouldRepeat(marker: marker)))
            #expect(outcome.exitCode == 2)
            #expect(after.reboots == 0)
            #expect(after.logs.contains { $0.hasPrefix("GIVING UP: grubenv /boot/grub/grubenv is not reachable") && $0.hasSuffix("a reboot would boot this kernel again; not rebooting, the boot continues") })
        }
        #expect(after.files["/fx/run/kmodguard/early-result"] == Array(("outcome=" + outcome.name + "\nkernel=" + new.string + "\n").utf8))
    }

    @Test func bootDeviceIsMountedWhenGrubenvIsNotVisible() throws {
        // Inside an initramfs: no /boot, no module trees; BOOT_DEVICE holds /boot.
        var platform = FakeGuardPlatform()
        var env = GrubEnvBlock()
        try env.set("kmodguard_last_good", old.string)
        platform.mountable["UUID=b00t"] = [
            "/grub/grubenv": env.bytes,
            "/grub/grub.cfg": Array(Self.grubConfig.utf8),
            "/vmlinuz-6.1.0-55-cloud-amd64": [],
            "/vmlinuz-6.1.0-56-cloud-amd64": [],
        ]
        let (outcome, after) = run(platform, try config("MODULES=virtio_blk\nBOOT_DEVICE=UUID=b00t"))
        #expect(outcome == .fallbackScheduled(old))
        #expect(after.mounted == ["/fx/run/kmodguard/boot"])
        #expect(after.unmounted == ["/fx/run/kmodguard/boot"])
        #expect(try grubenv(after, "/fx/run/kmodguard/boot/grub/grubenv").value("next_entry") == oldEntryPath)
    }

    @Test func invisibleTreesWithoutLastGoodUseTheVerifiedList() throws {
        var platform = machine()
        platform.visibleTrees = []
        let (refused, _) = run(platform, try config())
        #expect(refused == .gaveUp(.noCandidate))
        platform.files["/fx/etc/kmodguard/verified-kernels"] = Array("6.1.0-55-cloud-amd64\n".utf8)
        let (accepted, _) = run(platform, try config())
        #expect(accepted == .fallbackScheduled(old))
    }

    @Test func invalidGrubenvIsNeverWritten() throws {
        var platform = machine()
        platform.files["/fx/proc/cmdline"] = Array("ro kmodguard.boot=trial".utf8)
        platform.files["/fx/boot/grub/grubenv"] = Array("not a block".utf8)
        let (outcome, after) = run(platform, try config())
        #expect(outcome == .grubenvUnreachable)
        #expect(after.files["/fx/boot/grub/grubenv"] == Array("not a block".utf8))
        #expect(after.logs.contains { $0.contains("is not a GRUB environment block") })
    }

    @Test func failedWriteRebootsOnlyIntoAGrubTrial() throws {
        var platform = machine()
        platform.writeError = SystemError(operation: "write", path: "/fx/boot/grub/grubenv", errno: .readOnlyFileSystem, message: "Read-only file system")
        let (untracked, stays) = run(platform, try config())
        #expect(untracked == .gaveUp(.rebootWouldRepeat(marker: nil)))
        #expect(stays.reboots == 0)
        platform.files["/fx/proc/cmdline"] = Array("ro kmodguard.boot=trial".utf8)
        let (outcome, after) = run(platform, try config())
        #expect(outcome == .grubenvUnreachable)
        #expect(after.reboots == 1)
    }

    @Test func crowdedGrubenvDropsTheReasonFirst() throws {
        var env = GrubEnvBlock()
        try env.set("filler", String(repeating: "x", count: 700))
        var platform = machine(grubenv: env)
        platform.failures["virtio_blk"] = .vermagicMismatch(module: String(repeating: "m", count: 100), kernel: "k")
        let (outcome, after) = run(platform, try config())
        #expect(outcome == .fallbackScheduled(old))
        let written = try grubenv(after)
        #expect(written.value("next_entry") == oldEntryPath)
        #expect(written.value("kmodguard_reason") == nil)
    }

    @Test func brokenConfigIsLoggedAndSkipped() {
        var platform = machine()
        platform.files["/fx/etc/kmodguard/kmodguard.conf"] = Array("MODULES=virtio_blk\nBOGUS=1\n".utf8)
        var guardRun = EarlyGuard(platform: platform, root: root, kernel: new, dryRun: false, noWrite: false, noReboot: false)
        #expect(guardRun.loadConfig(path: "/fx/etc/kmodguard/kmodguard.conf") == nil)
        #expect(guardRun.platform.logs.contains { $0.contains("kmodguard.conf:2: unknown key BOGUS") })
        #expect(guardRun.loadConfig(path: "/fx/missing.conf") == nil)
    }
}

@Suite struct GuardArgumentsTests {
    @Test func parsesEveryOption() throws {
        let options = try GuardArguments.parse(["--root", "/r", "--kernel=6.1.0-1-amd64", "--config", "/c", "--dry-run", "--no-write",
                                                "--no-reboot", "--log", "stderr"])
        #expect(options.root == "/r" && options.kernel == "6.1.0-1-amd64" && options.config == "/c")
        #expect(options.dryRun && options.noWrite && options.noReboot && options.log == .stderr && !options.checkOnly)
    }

    @Test func checkImpliesNoSideEffects() throws {
        let options = try GuardArguments.parse(["--check", "--kernel", "6.1.0-1-amd64"])
        #expect(options.checkOnly && options.dryRun && options.noWrite && options.noReboot)
    }

    @Test(arguments: [["--root"], ["--kernel", "../x"], ["--log", "syslog"], ["--dry-run=yes"], ["extra"], ["--root="]])
    func refusesBadArguments(_ arguments: [String]) {
        #expect(throws: UsageError.self) { try GuardArguments.parse(arguments) }
    }
}
