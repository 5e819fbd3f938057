public import KmodguardCore

/// What to change in grubenv when a kernel is removed.
public enum KernelRemoval {
    /// Another installed kernel: its menu entry and whether its guarded driver works.
    public struct Candidate: Equatable, Sendable {
        public let kernel: KernelRelease
        public let entryPath: String?
        public let hasDriver: Bool

        public init(kernel: KernelRelease, entryPath: String?, hasDriver: Bool) {
            self.kernel = kernel
            self.entryPath = entryPath
            self.hasDriver = hasDriver
        }
    }

    /// The entry to keep GRUB on instead of `kernel`'s: the newest other kernel with its
    /// driver and a menu entry; nil when there is none.
    public static func replacement(removing kernel: KernelRelease, candidates: [Candidate]) -> String? {
        candidates.filter { $0.kernel != kernel && $0.hasDriver && $0.entryPath != nil }
            .max { $0.kernel < $1.kernel }?.entryPath
    }

    /// Every kmodguard variable that names `kernel` (its release, or a menu path whose entry id
    /// contains the release, as Debian's ids do: `gnulinux-KVER-advanced-UUID`): a pin or good
    /// entry moves to `replacement` (the newest other kernel with its driver), so a machine kept
    /// off a failing kernel stays off it; without one they are unset, as are the last good kernel
    /// and a trial of `kernel`.
    public static func changes(removing kernel: KernelRelease, grub: GrubState, replacement: String? = nil) -> [GrubChange] {
        func names(_ path: String?) -> Bool {
            guard let path, let entry = path.split(separator: ">").last else { return false }
            return entry.contains("-" + kernel.string + "-")
        }
        func moved(_ name: String) -> GrubChange {
            replacement.map { .set(name, $0) } ?? .unset(name)
        }
        var changes: [GrubChange] = []
        if names(grub.pin) { changes.append(moved(KmodguardVariable.pin)) }
        if names(grub.goodEntry) { changes.append(moved(KmodguardVariable.goodEntry)) }
        if grub.lastGood == kernel { changes.append(.unset(KmodguardVariable.lastGood)) }
        if grub.trialKernel == kernel {
            changes += [.unset(KmodguardVariable.trial), .unset(KmodguardVariable.trialKernel)]
        }
        return changes
    }
}
