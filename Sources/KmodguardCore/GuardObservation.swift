/// What the guard saw on this boot: the one input of `GuardPlanner.plan`. `EarlyGuard` fills it in
/// two steps: the storage check always, the boot files only when the planner asks for them
/// (`GuardPlan.needsBootFiles`), so the happy path mounts and reads nothing.
public struct GuardObservation: Sendable {
    public var kernel: KernelRelease
    public var config: GuardConfig
    /// The modules were resolved and checked against `kernel` (`--dry-run`), not inserted.
    public var dryRun: Bool
    /// Every guarded module, in MODULES order.
    public var modules: [ModuleResult]
    /// WAIT_FOR devices that did not appear within WAIT_TIMEOUT. Waited for only when every
    /// module loaded.
    public var missingDevices: [DeviceTag]
    /// grubenv, grub.cfg, the kernels and the kernel command line; nil until the planner asks.
    public var boot: BootObservation?

    public init(kernel: KernelRelease, config: GuardConfig, dryRun: Bool = false, modules: [ModuleResult] = [],
                missingDevices: [DeviceTag] = [], boot: BootObservation? = nil) {
        self.kernel = kernel
        self.config = config
        self.dryRun = dryRun
        self.modules = modules
        self.missingDevices = missingDevices
        self.boot = boot
    }
}

/// One guarded module: nil `failure` means it loaded (or, with `--dry-run`, resolves and matches).
public struct ModuleResult: Equatable, Sendable {
    public var name: String
    public var failure: ModuleLoadFailure?

    public init(_ name: String, _ failure: ModuleLoadFailure? = nil) {
        self.name = name
        self.failure = failure
    }
}

/// What the guard found when it looked for grubenv.
public struct BootObservation: Sendable {
    public var grubenv: GrubenvLookup
    /// `/proc/cmdline`, for GRUB's `kmodguard.boot=` marker.
    public var commandLine: Result<[UInt8], SystemError>
    /// Where `BOOT_DEVICE` was mounted; `EarlyGuard` unmounts it once the plan is carried out.
    public var mountPoint: String?
    /// The plan's grubenv write failed: `EarlyGuard` sets this and plans again.
    public var writeError: SystemError?

    public init(grubenv: GrubenvLookup, commandLine: Result<[UInt8], SystemError>, mountPoint: String? = nil,
                writeError: SystemError? = nil) {
        self.grubenv = grubenv
        self.commandLine = commandLine
        self.mountPoint = mountPoint
        self.writeError = writeError
    }
}

/// Where grubenv is, or why it was not found.
public enum GrubenvLookup: Sendable {
    case found(BootFiles)
    /// `path` (GRUBENV under the root) does not exist and BOOT_DEVICE is not set.
    case absent(path: String)
    case mountFailed(DeviceTag, SystemError)
    /// BOOT_DEVICE was mounted but holds no GRUBENV.
    case notOnBootDevice(DeviceTag)
}

/// The files next to a reachable grubenv.
public struct BootFiles: Sendable {
    public var grubenvPath: String
    public var grubenv: Result<[UInt8], SystemError>
    public var grubConfigPath: String
    public var menu: Result<GrubMenu, SystemError>
    /// The directory holding the kernel images.
    public var bootDirectory: String
    /// One per `vmlinuz-RELEASE` there, with what its module tree says about the guarded modules
    /// as seen from here (`.notVisible(verified: false)` when it cannot be seen). `menuPath` is
    /// left nil: the planner looks the entry up in `menu`, and the release up in `verified`.
    public var kernels: [InstalledKernel]
    /// The boot directory could not be listed.
    public var listError: SystemError?
    /// `/etc/kmodguard/verified-kernels` (empty when it cannot be read).
    public var verified: [KernelRelease]

    public init(grubenvPath: String, grubenv: Result<[UInt8], SystemError>, grubConfigPath: String,
                menu: Result<GrubMenu, SystemError>, bootDirectory: String, kernels: [InstalledKernel] = [],
                listError: SystemError? = nil, verified: [KernelRelease] = []) {
        self.grubenvPath = grubenvPath
        self.grubenv = grubenv
        self.grubConfigPath = grubConfigPath
        self.menu = menu
        self.bootDirectory = bootDirectory
        self.kernels = kernels
        self.listError = listError
        self.verified = verified
    }
}

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
