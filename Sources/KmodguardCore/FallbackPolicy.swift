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
}

/// The decision table of the guard after a failed module check.
public enum FallbackDecision: Equatable, Sendable {
    /// Boot this kernel next; `lastGood` tells whether it is `kmodguard_last_good`.
    case boot(InstalledKernel, lastGood: Bool)
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
