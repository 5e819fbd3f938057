/// Whether a kernel's module tree provides the guarded modules.
public enum ModuleAvailability: Equatable, Sendable {
    /// Every guarded module resolves in `/lib/modules/K`.
    case resolved
    /// The tree is there but these modules do not resolve.
    case unresolved([String])
    /// `/lib/modules/K` cannot be seen from here (inside an initramfs the root filesystem is not
    /// mounted yet). `verified` is true when the kernel is listed in kmodguard's verified list.
    case notVisible(verified: Bool)
}

/// What the guard knows about one installed kernel.
public struct InstalledKernel: Equatable, Sendable {
    public let release: KernelRelease
    public let hasImage: Bool
    /// The full GRUB menu path that boots it, nil when grub.cfg has no entry.
    public let menuPath: String?
    public let modules: ModuleAvailability

    public init(release: KernelRelease, hasImage: Bool, menuPath: String?, modules: ModuleAvailability) {
        self.release = release
        self.hasImage = hasImage
        self.menuPath = menuPath
        self.modules = modules
    }
}

/// Why no fallback kernel is scheduled.
public enum GiveUpReason: Equatable, Sendable {
    case policyContinue
    case attemptsExceeded(attempts: Int, limit: Int)
    case noCandidate
    /// grubenv is out of reach and GRUB recorded no trial it could fall back from: a reboot
    /// would boot this kernel again. `marker` is `kmodguard.boot=`'s value (nil: not given).
    case rebootWouldRepeat(marker: String?)
}

/// What GRUB did on this boot, as `/etc/grub.d/01_kmodguard` tells the kernel: it sets and
/// exports `kmodguard_boot`, and `/etc/default/grub.d/kmodguard.cfg` puts
/// `kmodguard.boot=${kmodguard_boot}` on the command line of the normal entries, which GRUB
/// expands at boot.
public enum BootMarker {
    public static let parameter = "kmodguard.boot"
    /// GRUB saved `kmodguard_trial=consumed` for this boot and has a good entry: if this boot
    /// never reaches the post-boot service, the next GRUB run boots that entry.
    public static let trial = "trial"
    /// A one-shot `next_entry` boot whose clearing GRUB saved: the next GRUB run takes the normal
    /// path (pin, trial, default), which this boot did not.
    public static let once = "once"

    /// The value of the last `kmodguard.boot=` word of a kernel command line (as the kernel
    /// itself reads parameters, the last one wins); nil when there is none.
    public static func value(in commandLine: [UInt8]) -> String? {
        let prefix = Array((parameter + "=").utf8)
        var found: String?
        for word in commandLine.split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\t") })
        where word.starts(with: prefix) {
            found = String(decoding: word.dropFirst(prefix.count), as: UTF8.self)
        }
        return found
    }

    /// How the marker reads in a log line.
    public static func describe(_ marker: String?) -> String {
        guard let marker else { return "no " + parameter + "= on the kernel command line" }
        return marker.isEmpty ? parameter + "= is empty" : parameter + "=" + marker
    }
}

/// The decision table of the guard after a failed module check.
public enum FallbackDecision: Equatable, Sendable {
    /// Boot this kernel next; `lastGood` tells whether it is `kmodguard_last_good`.
    case boot(InstalledKernel, lastGood: Bool)
    case giveUp(GiveUpReason)
}

/// The guard's choice when it cannot write grubenv.
public enum UnreachableGrubenvDecision: Equatable, Sendable {
    /// GRUB recorded what makes its next run differ: reboot at once.
    case rebootIntoGrubFallback
    case giveUp(GiveUpReason)
}

public enum FallbackPolicy {
    /// Chooses the kernel to boot after `running` failed. Pure: every fact comes in as data.
    ///
    /// - `kmodguard_last_good` wins when it is installed, has a menu entry and its modules resolve
    ///   (or cannot be seen from the initramfs: it was verified when it was recorded);
    /// - otherwise the newest other kernel with an image, a menu entry and resolving modules (or
    ///   listed as verified);
    /// - never `running`; nothing past `maxAttempts` fallbacks in a row.
    public static func decide(
        running: KernelRelease,
        lastGood: KernelRelease?,
        installed: [InstalledKernel],
        attempts: Int,
        maxAttempts: Int,
        policy: FailurePolicy
    ) -> FallbackDecision {
        if policy == .continue { return .giveUp(.policyContinue) }
        if attempts >= maxAttempts { return .giveUp(.attemptsExceeded(attempts: attempts, limit: maxAttempts)) }
        if let lastGood, lastGood != running,
           let kernel = installed.first(where: { $0.release == lastGood }),
           isBootable(kernel, trustInvisibleTree: true) {
            return .boot(kernel, lastGood: true)
        }
        let others = installed
            .filter { $0.release != running && isBootable($0, trustInvisibleTree: false) }
            .sorted { $0.release > $1.release }
        if let newest = others.first { return .boot(newest, lastGood: false) }
        return .giveUp(.noCandidate)
    }

    /// When the guard cannot reach grubenv, a reboot is its only lever, and it moves the machine
    /// only when GRUB's state on disk makes the next GRUB run differ from this one: it recorded
    /// this boot as a trial it falls back from (`kmodguard.boot=trial`), or this was a one-shot
    /// `next_entry` boot whose clearing it saved (`once`). Anything else (no trial, no good entry,
    /// GRUB could not `save_env`, a pin or fallback boot, no marker at all) means GRUB would
    /// choose this kernel again: rebooting would loop, so the guard gives up and lets the boot go
    /// on. From a boot without its driver nothing else writes grubenv, so a reboot on `once` is
    /// followed by a normal GRUB run, and one on `trial` by GRUB's fallback: two in a row at most.
    public static func withoutGrubenv(marker: String?) -> UnreachableGrubenvDecision {
        marker == BootMarker.trial || marker == BootMarker.once
            ? .rebootIntoGrubFallback : .giveUp(.rebootWouldRepeat(marker: marker))
    }

    /// Why `kernel` cannot be a fallback, or nil when it can.
    public static func rejection(of kernel: InstalledKernel, running: KernelRelease, isLastGood: Bool) -> String? {
        if kernel.release == running { return "it is the running kernel" }
        if !kernel.hasImage { return "no vmlinuz-" + kernel.release.string }
        if kernel.menuPath == nil { return "no GRUB menu entry for it in grub.cfg" }
        switch kernel.modules {
        case .resolved: return nil
        case .unresolved(let missing): return "modules not in its tree: " + missing.joined(separator: " ")
        case .notVisible(let verified):
            return verified || isLastGood ? nil : "its module tree is not visible here and it is not in the verified list"
        }
    }

    static func isBootable(_ kernel: InstalledKernel, trustInvisibleTree: Bool) -> Bool {
        guard kernel.hasImage, kernel.menuPath != nil else { return false }
        switch kernel.modules {
        case .resolved: return true
        case .unresolved: return false
        case .notVisible(let verified): return verified || trustInvisibleTree
        }
    }
}
