@testable import KmodguardService
import KmodguardCompletion
import KmodguardCore
import KmodguardSystem
import Testing

/// `complete`'s decisions against a described machine and scripted build results.
@Suite struct CompletionRunTests {
    static let uuid = "3f1c2b9e"
    let old = KernelRelease("6.1.0-55-cloud-amd64")!
    let new = KernelRelease("6.1.0-56-cloud-amd64")!
    var oldEntry: String { "gnulinux-advanced-\(Self.uuid)>gnulinux-6.1.0-55-cloud-amd64-advanced-\(Self.uuid)" }
    var newEntry: String { "gnulinux-advanced-\(Self.uuid)>gnulinux-6.1.0-56-cloud-amd64-advanced-\(Self.uuid)" }

    /// How often `driverIdentity` was asked (it may download the database's index).
    final class Counter: @unchecked Sendable { var count = 0 }

    struct FakeSteps: CompletionSteps {
        var identity = "virtio_blk-6.1.192"
        let identityAsked = Counter()
        var driver: [KernelRelease: DriverOutcome] = [:]
        var initramfs: InitramfsOutcome = .verified(image: "/boot/initrd.img")
        var built: [KernelRelease] = []
        var rebuilt: [KernelRelease] = []

        func driverIdentity() -> String {
            identityAsked.count += 1
            return identity
        }
        mutating func obtainDriver(for kernel: KernelRelease) -> DriverOutcome {
            built.append(kernel)
            return driver[kernel] ?? .installed(driver: identity, modules: ["virtio_blk"])
        }
        mutating func rebuildInitramfs(for kernel: KernelRelease, modules: [String]) -> InitramfsOutcome {
            rebuilt.append(kernel)
            return initramfs
        }
    }

    func menu() -> GrubMenu {
        let simple = GrubMenuEntry(title: "Debian GNU/Linux", id: "gnulinux-simple-\(Self.uuid)", submenus: [], kernel: new, isRecovery: false)
        let advanced = [new, old].map {
            GrubMenuEntry(title: "Debian, with Linux " + $0.string, id: "gnulinux-" + $0.string + "-advanced-\(Self.uuid)",
                          submenus: ["gnulinux-advanced-\(Self.uuid)"], kernel: $0, isRecovery: false)
        }
        return GrubMenu(entries: [simple] + advanced)
    }

    func snapshot(running: KernelRelease? = nil, verdict: String? = "passed", newHasDriver: Bool = false,
                  activate: String = "reboot", grubenv: [String] = [], stale: Set<KernelRelease> = [],
                  grubCanSave: Bool = true) throws -> SystemSnapshot {
        var config = try GuardConfig.parse(Array("MODULES=virtio_blk\nACTIVATE=\(activate)\n".utf8), file: "test.conf")
        config.source = "/usr/src/virtio_blk-6.1.192"
        var block = GrubEnvBlock()
        try block.apply(assignments: grubenv)
        return SystemSnapshot(
            root: SystemRoot("/nonexistent-root"), config: config, configBytes: Array("MODULES=virtio_blk".utf8), running: running ?? old,
            guardVerdict: verdict, grubenvPath: "/nonexistent-root/boot/grub/grubenv", grubenv: block, grubenvProblem: nil,
            menu: menu(), grubConfigPath: "/nonexistent-root/boot/grub/grub.cfg", kernels: [new, old],
            availability: [old: .resolved, new: newHasDriver ? .resolved : .unresolved(["virtio_blk"])],
            staleInitramfs: stale,
            grubenvMount: grubCanSave ? nil : MountInfo(mountPoint: "/boot", fsType: "ext4", source: "/dev/md0"))
    }

    func run(_ snapshot: SystemSnapshot, steps: FakeSteps = FakeSteps(), state: PersistentState = PersistentState())
        -> CompletionRun<FakeSteps> {
        var run = CompletionRun(steps: steps, snapshot: snapshot, state: state, now: "2026-11-25T00:00:00Z")
        run.perform()
        return run
    }

    @Test func everythingPresentOnlyRecordsTheGoodBoot() throws {
        let result = run(try snapshot(newHasDriver: true, grubenv: ["kmodguard_attempts=1"]))
        #expect(result.steps.built.isEmpty)
        // Nothing to build: the driver's identity (a database download) is not even asked for.
        #expect(result.steps.identityAsked.count == 0)
        #expect(result.grubChanges.contains(.set("kmodguard_last_good", old.string)))
        #expect(result.grubChanges.contains(.set("kmodguard_good_entry", oldEntry)))
        #expect(result.grubChanges.contains(.unset("kmodguard_attempts")))
        #expect(result.rebootInto == nil && result.failures == 0)
    }

    /// /boot on md RAID (e2e grubenv-grub-readonly, boot 3): the activation's next_entry booted
    /// the new kernel and GRUB could not clear it; complete blesses, clears it and says so.
    @Test func nextEntryGrubCouldNotClearIsClearedWhereGrubCannotSave() throws {
        let env = ["next_entry=\(newEntry)", "kmodguard_trial=armed", "kmodguard_trial_kernel=\(new)", "kmodguard_good_entry=\(oldEntry)"]
        let result = run(try snapshot(running: new, newHasDriver: true, grubenv: env, grubCanSave: false))
        #expect(result.grubChanges.contains(.unset("next_entry")))
        #expect(result.grubChanges.contains(.unset("kmodguard_trial")))
        #expect(result.messages.contains { $0.contains("GRUB cannot clear it here") })
        #expect(result.rebootInto == nil && result.failures == 0)
        let writable = run(try snapshot(running: new, newHasDriver: true, grubenv: env))
        #expect(!writable.grubChanges.contains(.unset("next_entry")))
    }

    /// A power cut between the driver install and the initramfs rebuild: the module tree is
    /// complete, the image is not, and the kernel just failed to boot. Rebuilding the image is
    /// the change that earns it another boot; without it the machine stayed pinned for good.
    @Test func staleInitramfsAfterAnInterruptedRunIsRebuiltAndActivated() throws {
        let result = run(try snapshot(newHasDriver: true, grubenv: ["kmodguard_failed=\(new)", "kmodguard_reason=virtio_blk: not found"],
                                      stale: [new]))
        #expect(result.steps.built.isEmpty)
        #expect(result.steps.rebuilt == [new])
        #expect(result.state.kernels[new.string]?.state == "initramfs")
        #expect(result.rebootInto == new)
        #expect(result.grubChanges.contains(.set("next_entry", newEntry)))
        #expect(!result.grubChanges.contains(.set("kmodguard_pin", oldEntry)))
        #expect(result.messages.contains { $0.contains("initramfs is older than it") })
    }

    /// Issue 13, apt-during-complete: the service arms the new kernel's trial and is about to
    /// reboot; a kernel hook's `complete --hook` in the same boot saw the armed trial with
    /// another kernel running, took it for a trial GRUB could not start, recorded a fallback
    /// and disarmed it (seen in the e2e). The boot is recorded once: a second run leaves it be.
    @Test func aSecondRunInTheSameBootDoesNotDisarmTheTrialTheFirstArmed() throws {
        var machine = try snapshot(grubenv: ["kmodguard_failed=\(new)", "kmodguard_reason=virtio_blk: not found"])
        machine.bootID = "8a0e5d3c-0000-4000-8000-000000000001"
        let first = run(machine)
        #expect(first.rebootInto == new)
        #expect(first.state.bootRecorded == machine.bootID)
        #expect(first.state.history.count == 1)
        // What the first run left: the driver installed, grubenv with the armed trial.
        var block = machine.grubenv ?? GrubEnvBlock()
        try block.apply(first.grubChanges)
        var after = try snapshot(newHasDriver: true)
        after.bootID = machine.bootID
        after = SystemSnapshot(root: after.root, config: after.config, configBytes: after.configBytes, running: after.running,
                               guardVerdict: after.guardVerdict, grubenvPath: after.grubenvPath, grubenv: block, grubenvProblem: nil,
                               menu: after.menu, grubConfigPath: after.grubConfigPath, kernels: after.kernels,
                               availability: after.availability, staleInitramfs: [], bootID: machine.bootID)
        #expect(GrubState(block).trial == .armed)

        let second = run(after, state: first.state)
        #expect(second.grubChanges.isEmpty, "\(second.grubChanges)")
        #expect(second.state.history.count == 1)
        #expect(!second.messages.contains { $0.contains("recorded fallback") })

        // The same state after a reboot (another boot id) is recorded as usual.
        after.bootID = "8a0e5d3c-0000-4000-8000-000000000002"
        let nextBoot = run(after, state: first.state)
        #expect(nextBoot.grubChanges.contains(.unset("kmodguard_trial")))
        #expect(nextBoot.state.bootRecorded == after.bootID)
    }

    @Test func staleInitramfsThatCannotBeRebuiltPins() throws {
        var steps = FakeSteps()
        steps.initramfs = .failed(message: "mkinitramfs exit 1", log: nil)
        let result = run(try snapshot(newHasDriver: true, grubenv: ["kmodguard_failed=\(new)"], stale: [new]), steps: steps)
        #expect(result.steps.rebuilt == [new])
        #expect(result.rebootInto == nil)
        #expect(result.grubChanges.contains(.set("kmodguard_pin", oldEntry)))
        #expect(result.state.kernels[new.string]?.state == "failed")
        #expect(result.failures == 1)
    }

    @Test func freshInitramfsOfAKernelThatJustFailedStaysPinned() throws {
        let result = run(try snapshot(newHasDriver: true, grubenv: ["kmodguard_failed=\(new)"]))
        #expect(result.steps.rebuilt.isEmpty)
        #expect(result.rebootInto == nil)
        #expect(result.grubChanges.contains(.set("kmodguard_pin", oldEntry)))
    }

    @Test func messagesAreReportedAsTheyAreSaid() throws {
        final class Seen: @unchecked Sendable { var lines: [String] = [] }
        let seen = Seen()
        var run = CompletionRun(steps: FakeSteps(), snapshot: try snapshot(), state: PersistentState(), now: "2026-11-25T00:00:00Z")
        run.onMessage = { seen.lines.append($0) }
        run.perform()
        #expect(!seen.lines.isEmpty)
        #expect(seen.lines == run.messages)
        #expect(seen.lines.contains { $0.hasPrefix(new.string + ": driver missing; building") })
    }

    @Test func missingDriverIsBuiltVerifiedAndActivated() throws {
        let result = run(try snapshot(grubenv: ["kmodguard_failed=\(new)", "kmodguard_reason=virtio_blk: not found"]))
        #expect(result.steps.built == [new])
        #expect(result.steps.identityAsked.count > 0)
        #expect(result.steps.rebuilt == [new])
        #expect(result.state.kernels[new.string]?.state == "initramfs")
        #expect(result.state.history.map(\.reason) == ["virtio_blk: not found"])
        #expect(result.rebootInto == new)
        #expect(result.grubChanges.contains(.set("next_entry", newEntry)))
        #expect(result.grubChanges.contains(.set("kmodguard_trial", "armed")))
        #expect(result.grubChanges.contains(.set("kmodguard_trial_kernel", new.string)))
        #expect(result.grubChanges.contains(.unset("kmodguard_failed")))
        #expect(result.failures == 0)
    }

    @Test func nextBootPolicyArmsButDoesNotReboot() throws {
        let result = run(try snapshot(activate: "next-boot"))
        #expect(result.rebootInto == nil)
        #expect(result.grubChanges.contains(.set("kmodguard_trial", "armed")))
        #expect(!result.grubChanges.contains { $0.name == "next_entry" })
    }

    @Test func compileFailurePinsAndIsNotRetriedUntilSomethingChanges() throws {
        var steps = FakeSteps()
        steps.driver[new] = .failed(message: "make failed", firstError: "virtio_blk.c:10:1: error: expected ';'", log: "/var/lib/kmodguard/logs/x.log")
        let first = run(try snapshot(), steps: steps)
        #expect(first.grubChanges.contains(.set("kmodguard_pin", oldEntry)))
        #expect(first.rebootInto == nil)
        #expect(first.failures == 1)
        let record = try #require(first.state.kernels[new.string])
        #expect(record.state == "failed" && record.firstError == "virtio_blk.c:10:1: error: expected ';'")

        // Next boot: same inputs, no rebuild; the pin already set is not rewritten.
        let second = run(try snapshot(grubenv: ["kmodguard_pin=\(oldEntry)"]), steps: steps, state: first.state)
        #expect(second.steps.built.isEmpty)
        #expect(!second.grubChanges.contains { $0.name == "kmodguard_pin" })
        #expect(second.messages.contains { $0.contains("not retrying") })

        // A new driver version is tried again.
        var newer = steps
        newer.identity = "virtio_blk-6.1.193"
        newer.driver[new] = nil
        let third = run(try snapshot(grubenv: ["kmodguard_pin=\(oldEntry)"]), steps: newer, state: first.state)
        #expect(third.steps.built == [new])
        #expect(third.grubChanges.contains(.unset("kmodguard_pin")))
        #expect(third.rebootInto == new)
    }

    /// A transient download failure pins like a failed build, but is not remembered as one: the
    /// next run, with nothing changed, tries again.
    @Test func downloadFailureIsRetriedOnTheNextRun() throws {
        var steps = FakeSteps()
        steps.driver[new] = .unavailable(message: "https://db/x.tar.gz: download failed: HTTP status 500 (gave up after 4 attempts)")
        let first = run(try snapshot(), steps: steps)
        #expect(first.grubChanges.contains(.set("kmodguard_pin", oldEntry)))
        #expect(first.failures == 1)
        let record = try #require(first.state.kernels[new.string])
        #expect(record.state == "download-failed")
        #expect(record.message == "driver database: https://db/x.tar.gz: download failed: HTTP status 500 (gave up after 4 attempts); "
                + "nothing installed, retried on the next run")
        #expect(first.messages.contains(new.string + ": no driver from the database, retrying on the next run: "
                                        + "https://db/x.tar.gz: download failed: HTTP status 500 (gave up after 4 attempts)"))
        #expect(!first.messages.contains { $0.contains("build failed") })

        steps.driver[new] = nil
        let second = run(try snapshot(grubenv: ["kmodguard_pin=\(oldEntry)"]), steps: steps, state: first.state)
        #expect(second.steps.built == [new])
        #expect(second.grubChanges.contains(.unset("kmodguard_pin")))
        #expect(second.rebootInto == new)
    }

    /// A refusal by the database is remembered like a failed build and not called one.
    @Test func databaseRefusalIsNotABuildFailure() throws {
        var steps = FakeSteps()
        steps.driver[new] = .refused(message: "https://db/x.tar.gz: sha256 check failed: got 00, the signed index says 11")
        let first = run(try snapshot(), steps: steps)
        #expect(first.state.kernels[new.string]?.state == "failed")
        #expect(first.messages.contains(new.string + ": no driver from the database: https://db/x.tar.gz: sha256 check failed: got 00, the signed index says 11"))
        #expect(!first.messages.contains { $0.contains("build failed") })
        let second = run(try snapshot(grubenv: ["kmodguard_pin=\(oldEntry)"]), steps: steps, state: first.state)
        #expect(second.steps.built.isEmpty)
        #expect(second.messages.contains { $0.contains("not retrying") })
    }

    @Test func excludedKernelIsASkipThatStillPins() throws {
        var steps = FakeSteps()
        steps.driver[new] = .excluded("BUILD_EXCLUSIVE_KERNEL=\"^5\\.\" does not match this kernel")
        let result = run(try snapshot(), steps: steps)
        #expect(result.state.kernels[new.string]?.state == "excluded")
        #expect(result.grubChanges.contains(.set("kmodguard_pin", oldEntry)))
        #expect(result.steps.rebuilt.isEmpty)
    }

    @Test func initramfsFailureKeepsTheOldImageAndDoesNotActivate() throws {
        var steps = FakeSteps()
        steps.initramfs = .failed(message: "virtio_blk.ko is not in the new image", log: "/var/lib/kmodguard/logs/i.log")
        let result = run(try snapshot(), steps: steps)
        #expect(result.rebootInto == nil)
        #expect(result.state.kernels[new.string]?.state == "failed")
        #expect(result.grubChanges.contains(.set("kmodguard_pin", oldEntry)))
    }

    @Test func bootWithoutTheGuardPassingRecordsNoLastGood() throws {
        let result = run(try snapshot(verdict: "gave-up", newHasDriver: true))
        #expect(!result.grubChanges.contains { $0.name == "kmodguard_last_good" })
    }

    @Test func kernelThatFailedToBootIsPinnedEvenWithItsDriver() throws {
        let result = run(try snapshot(newHasDriver: true, grubenv: ["kmodguard_failed=\(new)", "kmodguard_reason=device UUID=x did not appear"]))
        #expect(result.steps.built.isEmpty)
        #expect(result.grubChanges.contains(.set("kmodguard_pin", oldEntry)))
        #expect(result.rebootInto == nil)
    }

    @Test func missingHeadersNameThePackage() throws {
        var steps = FakeSteps()
        steps.driver[new] = .headersMissing(package: "linux-headers-\(new)")
        let result = run(try snapshot(), steps: steps)
        #expect(result.state.kernels[new.string]?.message == "kernel headers missing: apt-get install linux-headers-\(new)")
    }
}
