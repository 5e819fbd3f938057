public import KmodguardCore

/// What `complete` does for one installed kernel.
public enum KernelDecision: Equatable, Sendable {
    /// Its module tree already has a working driver.
    case hasDriver
    /// It failed before and nothing changed since (kernel set, driver version, configuration).
    case failedUnchanged
    case build
}

/// After the builds: how to get onto the newest kernel that now has its driver.
public enum Activation: Equatable, Sendable {
    case none
    /// Clear the pin and arm a trial; the next ordinary reboot takes the new kernel.
    case nextBoot(KernelRelease, changes: [GrubChange])
    /// The same, plus `next_entry`, and reboot now.
    case reboot(KernelRelease, changes: [GrubChange])
}

public enum CompletionPlanner {
    /// One decision per installed kernel, newest first.
    public static func decisions(
        kernels: [(release: KernelRelease, availability: ModuleAvailability, failedFingerprint: String?)],
        fingerprint: String
    ) -> [(KernelRelease, KernelDecision)] {
        kernels.sorted { $0.release > $1.release }.map { kernel in
            if kernel.availability == .resolved { return (kernel.release, .hasDriver) }
            if kernel.failedFingerprint == fingerprint { return (kernel.release, .failedUnchanged) }
            return (kernel.release, .build)
        }
    }

    /// `state.json`'s state of a kernel whose driver download failed in a way that may pass.
    public static let downloadFailedState = "download-failed"

    /// The fingerprint a kernel's recorded last attempt holds retries back with (the input of
    /// `decisions`): nil when it is tried again whatever the fingerprint: it succeeded
    /// (`installed`, `initramfs`: a driver missing since then is rebuilt) or its download failed
    /// in a way that may pass (`download-failed`: nothing was learnt about the driver, so it is
    /// retried on the next run). Every other outcome (`failed`, `excluded`, `headers-missing`) is
    /// retried only once the fingerprint changes.
    public static func failedFingerprint(state: String, fingerprint: String?) -> String? {
        switch state {
        case "installed", "initramfs", downloadFailedState: return nil
        default: return fingerprint
        }
    }

    /// The pin that keeps GRUB on the working kernel after `failed` could not get its driver.
    public static func pin(running: KernelRelease, guardPassed: Bool, runningEntry: String?, grub: GrubState) -> [GrubChange] {
        let entry = guardPassed ? runningEntry : grub.goodEntry
        guard let entry else { return [] }
        return [.set(KmodguardVariable.pin, entry)]
    }

    /// Activation of `defaultKernel` (the kernel GRUB boots by default) once it has its driver.
    /// Nothing to do when it is the running kernel.
    public static func activation(
        policy: String, running: KernelRelease, defaultKernel: KernelRelease?, defaultEntry: String?,
        defaultHasDriver: Bool, guardPassed: Bool, runningEntry: String?
    ) -> Activation {
        guard let target = defaultKernel, target != running, defaultHasDriver, let targetEntry = defaultEntry else { return .none }
        var changes: [GrubChange] = [.unset(KmodguardVariable.pin)]
        changes += trial(for: target, goodEntry: guardPassed ? runningEntry : nil)
        switch policy {
        case "reboot": return .reboot(target, changes: changes + [.set(KmodguardVariable.nextEntry, targetEntry)])
        case "next-boot": return .nextBoot(target, changes: changes)
        default: return .none
        }
    }

    /// Arms GRUB's trial counter for `kernel`, keeping `goodEntry` as the way back.
    public static func trial(for kernel: KernelRelease, goodEntry: String?) -> [GrubChange] {
        var changes: [GrubChange] = [
            .set(KmodguardVariable.trial, TrialState.armed.rawValue),
            .set(KmodguardVariable.trialKernel, kernel.string),
        ]
        if let goodEntry { changes.append(.set(KmodguardVariable.goodEntry, goodEntry)) }
        return changes
    }

    /// A trial is needed when the default kernel has not booted with the guard passing and no
    /// trial is already running for it.
    public static func needsTrial(defaultKernel: KernelRelease?, lastGood: KernelRelease?, running: KernelRelease,
                                  guardPassed: Bool, grub: GrubState) -> Bool {
        guard let defaultKernel, defaultKernel != lastGood else { return false }
        if defaultKernel == running && guardPassed { return false }
        return !(grub.trialKernel == defaultKernel && grub.trial != nil)
    }
}

/// Identifies the inputs of a build: a failed build is retried only when this changes.
public func retryFingerprint(kernels: [KernelRelease], driver: String, config: [UInt8]) -> String {
    var digest = ChangeDigest()
    digest.add(config)
    return "kernels=" + kernels.sorted().map { $0.string }.joined(separator: ",") + ";driver=" + driver + ";config=" + digest.hex
}
