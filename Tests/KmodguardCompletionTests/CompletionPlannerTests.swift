import KmodguardCompletion
import KmodguardCore
import Testing

@Suite struct BootBookkeepingTests {
    let old = KernelRelease("6.1.0-55-cloud-amd64")!
    let new = KernelRelease("6.1.0-56-cloud-amd64")!
    let oldEntry = "adv>gnulinux-6.1.0-55"
    let newEntry = "adv>gnulinux-6.1.0-56"

    func grub(_ assignments: [String]) throws -> GrubState {
        var block = GrubEnvBlock()
        try block.apply(assignments: assignments)
        return GrubState(block)
    }

    @Test func goodBootRecordsLastGoodAndResetsAttempts() throws {
        let result = BootBookkeeping.make(running: old, guardPassed: true, runningEntry: oldEntry,
                                          grub: try grub(["kmodguard_attempts=2"]))
        #expect(result.changes == [.set("kmodguard_last_good", old.string), .set("kmodguard_good_entry", oldEntry), .unset("kmodguard_attempts")])
        #expect(result.events.isEmpty)
    }

    @Test func guardFallbackMovesIntoHistory() throws {
        let result = BootBookkeeping.make(running: old, guardPassed: true, runningEntry: oldEntry,
                                          grub: try grub(["kmodguard_failed=\(new)", "kmodguard_reason=virtio_blk: not found"]))
        #expect(result.events == [FallbackEvent(source: .guardFallback, failedKernel: new, reason: "virtio_blk: not found")])
        #expect(result.changes.prefix(2) == [.unset("kmodguard_failed"), .unset("kmodguard_reason")])
    }

    @Test func blessingOnlyForTheTrialKernelWithTheGuardPassing() throws {
        let consumed = try grub(["kmodguard_trial=consumed", "kmodguard_trial_kernel=\(new)"])
        let blessed = BootBookkeeping.make(running: new, guardPassed: true, runningEntry: newEntry, grub: consumed)
        #expect(blessed.changes.contains(.unset("kmodguard_trial")))
        let notPassed = BootBookkeeping.make(running: new, guardPassed: false, runningEntry: newEntry, grub: consumed)
        #expect(!notPassed.changes.contains(.unset("kmodguard_trial")))
        #expect(!notPassed.changes.contains(.set("kmodguard_last_good", new.string)))
    }

    @Test func consumedTrialSeenFromAnotherKernelIsAFailure() throws {
        let consumed = try grub(["kmodguard_trial=consumed", "kmodguard_trial_kernel=\(new)"])
        let result = BootBookkeeping.make(running: old, guardPassed: true, runningEntry: oldEntry, grub: consumed)
        #expect(result.changes.contains(.set("kmodguard_trial", "failed")))
        #expect(result.events.first?.source == .trialNotBlessed)
        #expect(result.events.first?.failedKernel == new)
    }

    @Test func armedTrialSeenFromAnotherKernelIsDisarmedAndRecorded() throws {
        let armed = try grub(["kmodguard_trial=armed", "kmodguard_trial_kernel=\(new)"])
        let result = BootBookkeeping.make(running: old, guardPassed: true, runningEntry: oldEntry, grub: armed)
        #expect(result.changes.contains(.unset("kmodguard_trial")))
        #expect(result.events.map(\.source) == [.grub])
        let withGuardRecord = try grub(["kmodguard_trial=armed", "kmodguard_trial_kernel=\(new)", "kmodguard_failed=\(new)"])
        #expect(BootBookkeeping.make(running: old, guardPassed: true, runningEntry: oldEntry, grub: withGuardRecord).events.map(\.source)
            == [.guardFallback])
    }

    /// /boot on md RAID (issue 13): GRUB boots the activation's next_entry but its save_env cannot
    /// clear it, so GRUB would boot that entry on every later boot, ahead of the pin and the trial.
    @Test func nextEntryGrubCannotClearIsClearedOnceItBootedThisKernel() throws {
        let activated = try grub(["next_entry=\(newEntry)", "kmodguard_trial=armed", "kmodguard_trial_kernel=\(new)",
                                  "kmodguard_good_entry=\(oldEntry)"])
        let result = BootBookkeeping.make(running: new, guardPassed: true, runningEntry: newEntry, grub: activated, grubCanSave: false)
        #expect(result.changes.contains(.unset("next_entry")))
        #expect(result.changes.contains(.unset("kmodguard_trial")), "the trial is blessed as well")
        #expect(result.notes.count == 1)
        var block = GrubEnvBlock()
        try block.apply(assignments: ["next_entry=\(newEntry)", "kmodguard_trial=armed", "kmodguard_trial_kernel=\(new)"])
        try block.apply(result.changes)
        let after = GrubState(block)
        #expect(after.nextEntry == nil && after.trial == nil && after.lastGood == new)
        // Where GRUB can save_env it cleared next_entry at boot: one naming this kernel now was set
        // since (grub-reboot) and stays.
        let writable = BootBookkeeping.make(running: new, guardPassed: true, runningEntry: newEntry, grub: activated, grubCanSave: true)
        #expect(!writable.changes.contains(.unset("next_entry")))
        #expect(writable.notes.isEmpty)
    }

    /// The activation's next_entry named the trial kernel, which did not come up (its driver failed
    /// at run time); another kernel was picked by hand. GRUB cannot clear next_entry: without
    /// kmodguard it would boot the failed kernel on every boot.
    @Test func nextEntryOfATrialThatDidNotHoldIsClearedWhereGrubCannotSave() throws {
        let activated = try grub(["next_entry=\(newEntry)", "kmodguard_trial=armed", "kmodguard_trial_kernel=\(new)"])
        let result = BootBookkeeping.make(running: old, guardPassed: true, runningEntry: oldEntry, grub: activated, grubCanSave: false)
        #expect(result.changes.contains(.unset("next_entry")))
        #expect(result.changes.contains(.unset("kmodguard_trial")))
        // A next_entry naming another kernel without such a trial is someone's grub-reboot: kept.
        let chosen = try grub(["next_entry=\(newEntry)"])
        #expect(!BootBookkeeping.make(running: old, guardPassed: true, runningEntry: oldEntry, grub: chosen, grubCanSave: false)
            .changes.contains(.unset("next_entry")))
        #expect(!BootBookkeeping.make(running: old, guardPassed: true, runningEntry: oldEntry, grub: activated, grubCanSave: true)
            .changes.contains(.unset("next_entry")))
    }

    @Test func grubFallbackIsRecordedOnce() throws {
        let failed = try grub(["kmodguard_trial=failed", "kmodguard_trial_kernel=\(new)", "kmodguard_grub_fallback=\(oldEntry)"])
        let result = BootBookkeeping.make(running: old, guardPassed: true, runningEntry: oldEntry, grub: failed)
        #expect(result.events.map(\.source) == [.grub])
        #expect(result.changes.contains(.unset("kmodguard_grub_fallback")))
        #expect(!result.changes.contains(.unset("kmodguard_trial")))
        var block = GrubEnvBlock()
        try block.apply(assignments: ["kmodguard_trial=failed", "kmodguard_trial_kernel=\(new)", "kmodguard_grub_fallback=\(oldEntry)"])
        try block.apply(result.changes)
        #expect(BootBookkeeping.make(running: old, guardPassed: true, runningEntry: oldEntry, grub: GrubState(block)).events.isEmpty)
    }
}

@Suite struct CompletionPlannerTests {
    let old = KernelRelease("6.1.0-55-cloud-amd64")!
    let new = KernelRelease("6.1.0-56-cloud-amd64")!

    @Test func decisionsNewestFirstWithRetryFingerprint() {
        let decisions = CompletionPlanner.decisions(kernels: [
            (old, .resolved, nil),
            (new, .unresolved(["virtio_blk"]), "f1"),
        ], fingerprint: "f1")
        #expect(decisions.map(\.0) == [new, old])
        #expect(decisions.map(\.1) == [.failedUnchanged, .hasDriver])
        #expect(CompletionPlanner.decisions(kernels: [(new, .unresolved(["x"]), "f1")], fingerprint: "f2").first?.1 == .build)
    }

    /// Which recorded outcomes hold a retry back until the fingerprint changes: the failures
    /// that say something about the driver or the machine; not a download that may pass.
    @Test(arguments: [
        ("failed", "f1"), ("excluded", "f1"), ("headers-missing", "f1"), ("some-future-state", "f1"),
        ("download-failed", nil), ("installed", nil), ("initramfs", nil),
    ] as [(String, String?)])
    func recordedOutcomeHoldsRetriesBack(state: String, held: String?) {
        #expect(CompletionPlanner.failedFingerprint(state: state, fingerprint: "f1") == held)
        let decision = CompletionPlanner.decisions(
            kernels: [(new, .unresolved(["x"]), CompletionPlanner.failedFingerprint(state: state, fingerprint: "f1"))], fingerprint: "f1")
        #expect(decision.first?.1 == (held == nil ? .build : .failedUnchanged))
    }

    @Test func fingerprintChangesWithKernelsDriverOrConfig() {
        let base = retryFingerprint(kernels: [new, old], driver: "virtio_blk-1", config: Array("MODULES=virtio_blk".utf8))
        #expect(base == retryFingerprint(kernels: [old, new], driver: "virtio_blk-1", config: Array("MODULES=virtio_blk".utf8)))
        #expect(base != retryFingerprint(kernels: [new], driver: "virtio_blk-1", config: Array("MODULES=virtio_blk".utf8)))
        #expect(base != retryFingerprint(kernels: [new, old], driver: "virtio_blk-2", config: Array("MODULES=virtio_blk".utf8)))
        #expect(base != retryFingerprint(kernels: [new, old], driver: "virtio_blk-1", config: Array("MODULES=virtio_blk ".utf8)))
    }

    @Test func activationPolicies() {
        func activation(_ policy: String, hasDriver: Bool = true, defaultKernel: KernelRelease? = nil) -> Activation {
            CompletionPlanner.activation(policy: policy, running: old, defaultKernel: defaultKernel ?? new, defaultEntry: "adv>new",
                                         defaultHasDriver: hasDriver, guardPassed: true, runningEntry: "adv>old")
        }
        let arm: [GrubChange] = [.unset("kmodguard_pin"), .set("kmodguard_trial", "armed"), .set("kmodguard_trial_kernel", new.string),
                                 .set("kmodguard_good_entry", "adv>old")]
        #expect(activation("reboot") == .reboot(new, changes: arm + [.set("next_entry", "adv>new")]))
        #expect(activation("next-boot") == .nextBoot(new, changes: arm))
        #expect(activation("none") == .none)
        #expect(activation("reboot", hasDriver: false) == .none)
        #expect(activation("reboot", defaultKernel: old) == .none)
    }

    @Test func pinUsesTheRunningKernelOnlyWhenItIsGood() throws {
        var block = GrubEnvBlock()
        try block.set("kmodguard_good_entry", "adv>older")
        let grub = GrubState(block)
        #expect(CompletionPlanner.pin(running: old, guardPassed: true, runningEntry: "adv>old", grub: grub) == [.set("kmodguard_pin", "adv>old")])
        #expect(CompletionPlanner.pin(running: old, guardPassed: false, runningEntry: "adv>old", grub: grub) == [.set("kmodguard_pin", "adv>older")])
    }

    @Test func trialIsArmedOnceForANewDefaultKernel() throws {
        let empty = GrubState(GrubEnvBlock())
        #expect(CompletionPlanner.needsTrial(defaultKernel: new, lastGood: old, running: old, guardPassed: true, grub: empty))
        #expect(!CompletionPlanner.needsTrial(defaultKernel: old, lastGood: old, running: old, guardPassed: true, grub: empty))
        var block = GrubEnvBlock()
        try block.apply(CompletionPlanner.trial(for: new, goodEntry: "adv>old"))
        #expect(!CompletionPlanner.needsTrial(defaultKernel: new, lastGood: old, running: old, guardPassed: true, grub: GrubState(block)))
    }
}

@Suite struct KernelRemovalTests {
    @Test func forgetsOnlyWhatNamesTheKernel() throws {
        let gone = KernelRelease("6.1.0-55-cloud-amd64")!
        var block = GrubEnvBlock()
        try block.apply(assignments: [
            "kmodguard_pin=gnulinux-advanced-u>gnulinux-6.1.0-55-cloud-amd64-advanced-u",
            "kmodguard_good_entry=gnulinux-advanced-u>gnulinux-6.1.0-55-cloud-amd64-advanced-u",
            "kmodguard_last_good=6.1.0-55-cloud-amd64",
            "kmodguard_trial=armed", "kmodguard_trial_kernel=6.1.0-56-cloud-amd64",
        ])
        let changes = KernelRemoval.changes(removing: gone, grub: GrubState(block))
        #expect(changes == [.unset("kmodguard_pin"), .unset("kmodguard_good_entry"), .unset("kmodguard_last_good")])
        // 6.1.0-5 is not 6.1.0-55.
        #expect(KernelRemoval.changes(removing: KernelRelease("6.1.0-5-cloud-amd64")!, grub: GrubState(block)).isEmpty)
    }

    /// Issue 13, kernel-removed-while-pinned: removing the pinned kernel while the default one
    /// still fails must keep GRUB on a working kernel, not drop the pin (GRUB would boot the
    /// failing default again).
    @Test func aPinOnTheRemovedKernelMovesToTheNewestOtherWorkingKernel() throws {
        let gone = KernelRelease("6.1.0-56-cloud-amd64")!
        var block = GrubEnvBlock()
        try block.apply(assignments: [
            "kmodguard_pin=adv>gnulinux-6.1.0-56-cloud-amd64-advanced-u",
            "kmodguard_good_entry=adv>gnulinux-6.1.0-56-cloud-amd64-advanced-u",
            "kmodguard_last_good=6.1.0-56-cloud-amd64",
        ])
        let candidates: [KernelRemoval.Candidate] = [
            .init(kernel: KernelRelease("6.1.0-57-cloud-amd64")!, entryPath: "adv>gnulinux-6.1.0-57-cloud-amd64-advanced-u", hasDriver: false),
            .init(kernel: gone, entryPath: "adv>gnulinux-6.1.0-56-cloud-amd64-advanced-u", hasDriver: true),
            .init(kernel: KernelRelease("6.1.0-54-cloud-amd64")!, entryPath: "adv>gnulinux-6.1.0-54-cloud-amd64-advanced-u", hasDriver: true),
            .init(kernel: KernelRelease("6.1.0-53-cloud-amd64")!, entryPath: "adv>gnulinux-6.1.0-53-cloud-amd64-advanced-u", hasDriver: true),
        ]
        let replacement = KernelRemoval.replacement(removing: gone, candidates: candidates)
        #expect(replacement == "adv>gnulinux-6.1.0-54-cloud-amd64-advanced-u")
        #expect(KernelRemoval.changes(removing: gone, grub: GrubState(block), replacement: replacement) == [
            .set("kmodguard_pin", "adv>gnulinux-6.1.0-54-cloud-amd64-advanced-u"),
            .set("kmodguard_good_entry", "adv>gnulinux-6.1.0-54-cloud-amd64-advanced-u"),
            .unset("kmodguard_last_good"),
        ])
    }

    @Test(arguments: [
        // No other kernel has its driver, or none has a menu entry: nothing to move to.
        [KernelRemoval.Candidate(kernel: KernelRelease("6.1.0-57-cloud-amd64")!, entryPath: "adv>e57", hasDriver: false)],
        [KernelRemoval.Candidate(kernel: KernelRelease("6.1.0-54-cloud-amd64")!, entryPath: nil, hasDriver: true)],
        [],
    ])
    func withoutAWorkingKernelThePinIsDropped(candidates: [KernelRemoval.Candidate]) {
        let gone = KernelRelease("6.1.0-56-cloud-amd64")!
        #expect(KernelRemoval.replacement(removing: gone, candidates: candidates) == nil)
    }
}
