/// How a guard run ended; `exitCode` is what `kmodguard-early` returns (see its `--help`).
public enum GuardOutcome: Equatable, Sendable {
    case passed
    case fallbackScheduled(KernelRelease)
    case gaveUp(GiveUpReason)
    case grubenvUnreachable
    case configInvalid

    /// The word recorded in /run/kmodguard/early-result.
    public var name: String {
        switch self {
        case .passed: return "passed"
        case .fallbackScheduled: return "fallback-scheduled"
        case .gaveUp: return "gave-up"
        case .grubenvUnreachable: return "grubenv-unreachable"
        case .configInvalid: return "config-invalid"
        }
    }

    public var exitCode: Int32 { GuardExit.guarded(self).code }
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

/// What `GuardPlanner.plan` decided: `EarlyGuard` carries it out (write, log, record, reboot).
public struct GuardPlan: Sendable {
    public var outcome: GuardOutcome
    /// The grubenv write, nil when nothing is written.
    public var grubenvUpdate: GrubenvUpdate?
    /// Reboot once the outcome is recorded.
    public var reboot: Bool
    public var log: [GuardLogLine]
    /// The decision depends on grubenv and /boot, which the observation does not hold yet: look
    /// (`GuardObservation.boot`) and plan again. `outcome` means nothing then.
    public var needsBootFiles: Bool

    public init(_ outcome: GuardOutcome, grubenvUpdate: GrubenvUpdate? = nil, reboot: Bool = false, log: [GuardLogLine] = [],
                needsBootFiles: Bool = false) {
        self.outcome = outcome
        self.grubenvUpdate = grubenvUpdate
        self.reboot = reboot
        self.log = log
        self.needsBootFiles = needsBootFiles
    }
}

public struct GuardLogLine: Equatable, Sendable {
    public var level: LogLevel
    public var text: String

    public init(_ level: LogLevel, _ text: String) {
        self.level = level
        self.text = text
    }
}

/// Typed changes to the grubenv at `path`; `block` is the block read there with them applied,
/// written back in place.
public struct GrubenvUpdate: Sendable {
    public var path: String
    public var changes: [GrubChange]
    public var block: GrubEnvBlock

    public init(path: String, changes: [GrubChange], block: GrubEnvBlock) {
        self.path = path
        self.changes = changes
        self.block = block
    }
}

/// Every way `kmodguard-early` ends: its exit status, and the one line the initramfs hooks log
/// with `--summary`. The hooks themselves only report what the guard cannot: 126, 127, signals.
public enum GuardExit: Equatable, Sendable {
    /// A boot-time run; its outcome is recorded in /run.
    case guarded(GuardOutcome)
    /// `--check`: whether the modules resolve and match the kernel.
    case checked(passed: Bool)
    case usageError
    /// `--help`, `--version`.
    case informed

    public var code: Int32 {
        switch self {
        case .guarded(.passed), .checked(passed: true), .informed: return 0
        case .guarded(.fallbackScheduled), .checked(passed: false): return 1
        case .guarded(.gaveUp): return 2
        case .guarded(.grubenvUnreachable): return 3
        case .guarded(.configInvalid): return 4
        case .usageError: return 64
        }
    }

    /// `kmodguard-early exit 1 after 0.17 s: ...; the boot continues` and its kmsg level.
    /// `dryRun`: run with `--no-write --no-reboot` (what `kmodguard.dry_run` asks the hooks for);
    /// `noReboot`: `--no-reboot` alone. Any other run that returns at all ended without a reboot.
    public func summary(milliseconds: Int64, dryRun: Bool, noReboot: Bool) -> GuardLogLine {
        var level = LogLevel.error
        /// Exits 1 and 3 come back only when the reboot was not asked for, or failed.
        func withoutReboot(_ what: String, dry: String, failed: String) -> String {
            guard !dryRun else {
                level = .warning
                return dry
            }
            return what + (noReboot ? " (--no-reboot)" : failed)
        }
        let what: String
        switch self {
        case .guarded(.passed), .checked(passed: true), .informed:
            level = .info
            what = "ok"
        case .checked(passed: false):
            what = "the guarded modules do not resolve or do not match this kernel"
        case .guarded(.fallbackScheduled):
            what = withoutReboot("fallback scheduled", dry: "a fallback would be scheduled (dry run: grubenv unchanged, no reboot)",
                                 failed: ", but the reboot failed")
        case .guarded(.gaveUp):
            what = "the guarded modules failed and no fallback is possible (see above)"
        case .guarded(.grubenvUnreachable):
            what = withoutReboot("grubenv unreachable", dry: "grubenv unreachable: would reboot at once (dry run: no reboot)",
                                 failed: ", and the reboot failed")
        case .guarded(.configInvalid):
            what = "configuration missing or invalid: nothing checked"
        case .usageError:
            what = "usage error: the hook and kmodguard-early do not match"
        }
        // Int, not Int32/Int64: each integer type's String(_:) is its own code in the guard.
        let centiseconds = Int(truncatingIfNeeded: max(milliseconds, 0) / 10)
        let time = String(centiseconds / 100) + "." + String(centiseconds / 10 % 10) + String(centiseconds % 10) + " s"
        return GuardLogLine(level, "kmodguard-early exit " + String(Int(code)) + " after " + time + ": " + what
            + (dryRun ? " [kmodguard.dry_run]" : "") + "; the boot continues")
    }
}
