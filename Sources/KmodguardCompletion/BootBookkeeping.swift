public import KmodguardCore

/// What the post-boot service records about the boot that just happened: the pure part of
/// `kmodguard complete`'s first step.
public struct BootBookkeeping: Equatable, Sendable {
    public var changes: [GrubChange] = []
    public var events: [FallbackEvent] = []
    /// What was changed for GRUB and why, for the log.
    public var notes: [String] = []

    /// Nothing to record (a later run in a boot already recorded).
    public init() {}

    /// - Parameters:
    ///   - guardPassed: the guarded modules loaded on this boot (kmodguard-early's verdict).
    ///   - runningEntry: the full GRUB menu path of the running kernel, when grub.cfg has one.
    ///   - grubCanSave: GRUB's `save_env` can write grubenv (not on md RAID, LVM, btrfs, ZFS:
    ///     `GrubenvWritability`). Where it cannot, GRUB boots a one-shot `next_entry` without
    ///     clearing it, so it would boot that entry on every later boot, ahead of the pin and the
    ///     trial: once it has been used, Linux clears it for GRUB.
    public static func make(running: KernelRelease, guardPassed: Bool, runningEntry: String?, grub: GrubState,
                            grubCanSave: Bool = true) -> BootBookkeeping {
        var result = BootBookkeeping()
        if !grubCanSave, let next = grub.nextEntry {
            if next == runningEntry {
                result.changes.append(.unset(KmodguardVariable.nextEntry))
                result.notes.append("next_entry " + next + " booted this kernel; GRUB cannot clear it here (no save_env): cleared")
            } else if grub.trial == .armed, let trialKernel = grub.trialKernel, trialKernel != running {
                // The activation's one-shot boot of the trial kernel did not hold (it failed, and
                // another kernel was picked by hand): GRUB would boot it again on every boot.
                result.changes.append(.unset(KmodguardVariable.nextEntry))
                result.notes.append("next_entry " + next + " (the trial of " + trialKernel.string
                    + ") did not bring up that kernel; GRUB cannot clear it here (no save_env): cleared")
            }
        }
        // The guard's fallback record moves into the history.
        if grub.failedKernel != nil || grub.failureReason != nil {
            result.events.append(FallbackEvent(source: .guardFallback, failedKernel: grub.failedKernel,
                                               reason: grub.failureReason ?? "no reason recorded"))
            result.changes += [.unset(KmodguardVariable.failed), .unset(KmodguardVariable.reason)]
        }
        switch grub.trial {
        case .consumed?, .armed?:
            if grub.trialKernel == running {
                if guardPassed {
                    // Blessed: the trial kernel booted with its driver.
                    result.changes += [.unset(KmodguardVariable.trial), .unset(KmodguardVariable.trialKernel)]
                }
            } else if grub.trial == .consumed {
                result.events.append(FallbackEvent(
                    source: .trialNotBlessed, failedKernel: grub.trialKernel,
                    reason: "trial boot of " + (grub.trialKernel?.string ?? "the default kernel") + " never reached the post-boot service"))
                result.changes.append(.set(KmodguardVariable.trial, TrialState.failed.rawValue))
            } else {
                // Still armed while another kernel runs: GRUB could not record the trial
                // (save_env failed, so 01_kmodguard booted the good entry), or a one-shot
                // next_entry boot of the trial kernel fell back. Either way it did not pass.
                if grub.failedKernel == nil {
                    result.events.append(FallbackEvent(
                        source: .grub, failedKernel: grub.trialKernel,
                        reason: "trial of " + (grub.trialKernel?.string ?? "the default kernel")
                            + " was not started: GRUB could not save_env, or the boot fell back"))
                }
                result.changes += [.unset(KmodguardVariable.trial), .unset(KmodguardVariable.trialKernel)]
            }
        case .failed?:
            if let entry = grub.grubFallback {
                result.events.append(FallbackEvent(source: .grub, failedKernel: grub.trialKernel,
                                                   reason: "GRUB booted " + entry + " after an unblessed trial"))
                result.changes.append(.unset(KmodguardVariable.grubFallback))
            }
        case nil:
            break
        }
        if guardPassed {
            result.changes.append(.set(KmodguardVariable.lastGood, running.string))
            if let runningEntry { result.changes.append(.set(KmodguardVariable.goodEntry, runningEntry)) }
            if grub.attempts != 0 { result.changes.append(.unset(KmodguardVariable.attempts)) }
        }
        return result
    }
}
