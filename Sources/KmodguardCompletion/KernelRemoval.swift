public import KmodguardCore

/// What to forget in grubenv when a kernel is removed.
public enum KernelRemoval {
    /// Unsets every kmodguard variable that names `kernel` (its release, or a menu path whose
    /// entry id contains the release, as Debian's ids do: `gnulinux-KVER-advanced-UUID`).
    public static func changes(removing kernel: KernelRelease, grub: GrubState) -> [GrubChange] {
        func names(_ path: String?) -> Bool {
            guard let path, let entry = path.split(separator: ">").last else { return false }
            return entry.contains("-" + kernel.string + "-")
        }
        var changes: [GrubChange] = []
        if names(grub.pin) { changes.append(.unset(KmodguardVariable.pin)) }
        if names(grub.goodEntry) { changes.append(.unset(KmodguardVariable.goodEntry)) }
        if grub.lastGood == kernel { changes.append(.unset(KmodguardVariable.lastGood)) }
        if grub.trialKernel == kernel {
            changes += [.unset(KmodguardVariable.trial), .unset(KmodguardVariable.trialKernel)]
        }
        return changes
    }
}
