/// GRUB's trial counter state (`kmodguard_trial`, advanced by /etc/grub.d/01_kmodguard).
public enum TrialState: String, CaseIterable, Sendable {
    /// Userspace armed a trial for a kernel that has not booted with the guard passing yet.
    case armed
    /// GRUB started that trial boot.
    case consumed
    /// GRUB found the trial consumed but never blessed and booted the good entry instead.
    case failed
}

/// Every grubenv variable kmodguard reads or writes (the guard, the CLI and GRUB's snippet).
public enum KmodguardVariable {
    public static let nextEntry = "next_entry"
    public static let failed = "kmodguard_failed"
    public static let reason = "kmodguard_reason"
    public static let attempts = "kmodguard_attempts"
    public static let lastGood = "kmodguard_last_good"
    public static let goodEntry = "kmodguard_good_entry"
    public static let pin = "kmodguard_pin"
    public static let trial = "kmodguard_trial"
    public static let trialKernel = "kmodguard_trial_kernel"
    public static let grubFallback = "kmodguard_grub_fallback"
}

/// kmodguard's view of grubenv, shared by the guard and the CLI.
public struct GrubState: Equatable, Sendable {
    public var nextEntry: String?
    public var failedKernel: KernelRelease?
    public var failureReason: String?
    public var attempts: Int
    public var lastGood: KernelRelease?
    public var goodEntry: String?
    public var pin: String?
    public var trial: TrialState?
    public var trialKernel: KernelRelease?
    public var grubFallback: String?

    public init(_ block: GrubEnvBlock) {
        func value(_ name: String) -> String? {
            guard let text = block.value(name), !text.isEmpty else { return nil }
            return text
        }
        nextEntry = value(KmodguardVariable.nextEntry)
        failedKernel = value(KmodguardVariable.failed).flatMap(KernelRelease.init)
        failureReason = value(KmodguardVariable.reason)
        attempts = value(KmodguardVariable.attempts).flatMap { parseInteger($0, in: 0...1_000_000) } ?? 0
        lastGood = value(KmodguardVariable.lastGood).flatMap(KernelRelease.init)
        goodEntry = value(KmodguardVariable.goodEntry)
        pin = value(KmodguardVariable.pin)
        trial = value(KmodguardVariable.trial).flatMap(TrialState.init(rawValue:))
        trialKernel = value(KmodguardVariable.trialKernel).flatMap(KernelRelease.init)
        grubFallback = value(KmodguardVariable.grubFallback)
    }
}

/// A change to grubenv: set a value, or unset it (nil).
public struct GrubChange: Equatable, Sendable, CustomStringConvertible {
    public let name: String
    public let value: String?

    /// `name=value`, or `name unset`: how the logs list changes.
    public var description: String { name + (value.map { "=" + $0 } ?? " unset") }

    public static func set(_ name: String, _ value: String) -> GrubChange { GrubChange(name: name, value: value) }
    public static func unset(_ name: String) -> GrubChange { GrubChange(name: name, value: nil) }
}

extension GrubEnvBlock {
    /// Applies changes in order, all or nothing.
    public mutating func apply(_ changes: [GrubChange]) throws(GrubEnvError) {
        var copy = self
        for change in changes {
            if let value = change.value { try copy.set(change.name, value) } else { copy.unset(change.name) }
        }
        self = copy
    }
}
