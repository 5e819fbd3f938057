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

    public var exitCode: Int32 {
        switch self {
        case .passed: return 0
        case .fallbackScheduled: return 1
        case .gaveUp: return 2
        case .grubenvUnreachable: return 3
        case .configInvalid: return 4
        }
    }
}

/// Variables the guard writes to grubenv.
public enum GrubEnvKey {
    public static let nextEntry = "next_entry"
    public static let failed = "kmodguard_failed"
    public static let reason = "kmodguard_reason"
    public static let attempts = "kmodguard_attempts"
    public static let lastGood = "kmodguard_last_good"
}

/// The early guard's logic: check, decide, act through `Platform`. Nothing here touches the
/// machine directly, so every branch runs in tests against a fake platform.
public struct EarlyGuard<Platform: GuardPlatform> {
    public var platform: Platform
    public let root: SystemRoot
    public let kernel: KernelRelease
    public let dryRun: Bool
    public let noWrite: Bool
    public let noReboot: Bool

    public init(platform: Platform, root: SystemRoot, kernel: KernelRelease, dryRun: Bool, noWrite: Bool, noReboot: Bool) {
        self.platform = platform
        self.root = root
        self.kernel = kernel
        self.dryRun = dryRun
        self.noWrite = noWrite
        self.noReboot = noReboot
    }

    /// Reads the configuration file; logs every problem. A missing or broken file yields nil:
    /// the boot must go on.
    public mutating func loadConfig(path: String) -> GuardConfig? {
        switch platform.readFile(path, limit: 64 * 1024) {
        case .failure(let error):
            platform.log(.error, "cannot read configuration: " + error.description + "; guard skipped, boot continues")
            return nil
        case .success(let bytes):
            do {
                return try GuardConfig.parse(bytes, file: path)
            } catch {
                for issue in error.issues { platform.log(.error, issue.description) }
                platform.log(.error, "configuration invalid; guard skipped, boot continues")
                return nil
            }
        }
    }

    /// `--check`: the modules only, no devices, no fallback.
    public mutating func checkModules(config: GuardConfig) -> GuardOutcome {
        var copy = config
        copy.waitFor = []
        guard let failure = check(copy) else { return .passed }
        platform.log(.error, "kernel " + kernel.string + ": " + failure)
        return .fallbackScheduled(kernel)
    }

    /// Runs the whole check and, on failure, the fallback, and records the outcome in /run.
    public mutating func run(config: GuardConfig) -> GuardOutcome {
        decide(config: config)
    }

    /// Tells the post-boot service how this boot went (`outcome=…`, `kernel=…`); written before
    /// any reboot, which never returns.
    public mutating func record(_ outcome: GuardOutcome) {
        guard !noWrite else { return }
        let text = "outcome=" + outcome.name + "\nkernel=" + kernel.string + "\n"
        if let error = platform.writeRunState(root.earlyResult, Array(text.utf8)) {
            platform.log(.warning, "cannot record the outcome in " + root.earlyResult + ": " + error.description)
        }
    }

    mutating func decide(config: GuardConfig) -> GuardOutcome {
        if config.modules.isEmpty && config.waitFor.isEmpty {
            platform.log(.notice, "nothing to guard (MODULES and WAIT_FOR are empty)")
            record(.passed)
            return .passed
        }
        guard let failure = check(config) else {
            platform.log(.info, "kernel " + kernel.string + ": " + describe(config) + ": ok")
            record(.passed)
            return .passed
        }
        platform.log(.error, "kernel " + kernel.string + " cannot reach its storage: " + failure)
        if config.onFailure == .continue {
            platform.log(.error, "ON_FAILURE=continue: not scheduling a fallback; the boot continues and may not find its root")
            record(.gaveUp(.policyContinue))
            return .gaveUp(.policyContinue)
        }
        return fallBack(config: config, reason: failure)
    }

    /// Nil when every module loads and every device appears; otherwise the reason.
    mutating func check(_ config: GuardConfig) -> String? {
        var reasons: [String] = []
        // /dev/kmsg takes about 10 records per 5 s from one writer: detail lines for the first
        // few failures only, so the decision lines that follow are never rate-limited away.
        let detailLimit = 3
        for module in config.modules {
            if let failure = platform.loadModule(module, kernel: kernel, dryRun: dryRun) {
                if reasons.count < detailLimit { platform.log(.error, "module " + module + ": " + failure.detail) }
                reasons.append(module + ": " + failure.summary)
            } else if config.modules.count <= detailLimit {
                platform.log(.info, "module " + module + ": " + (dryRun ? "resolves and matches " + kernel.string : "loaded"))
            }
        }
        if !reasons.isEmpty { return reasons.joined(separator: ", ") }
        let deadline = platform.now() + Int64(config.waitTimeout) * 1000
        for tag in config.waitFor where !platform.waitForDevice(tag, deadline: deadline) {
            let message = "device " + tag.description + " did not appear within " + String(config.waitTimeout) + "s"
            platform.log(.error, message)
            reasons.append(message)
        }
        return reasons.isEmpty ? nil : reasons.joined(separator: ", ")
    }

    func describe(_ config: GuardConfig) -> String {
        var parts: [String] = []
        if !config.modules.isEmpty { parts.append("modules " + config.modules.joined(separator: " ")) }
        if !config.waitFor.isEmpty { parts.append("devices " + config.waitFor.map { $0.description }.joined(separator: " ")) }
        return parts.joined(separator: ", ")
    }

    /// Where grubenv and the kernels are, once reachable.
    struct BootLocation {
        let grubenv: String
        let bootDirectory: String
        let mountPoint: String?
    }

    mutating func fallBack(config: GuardConfig, reason: String) -> GuardOutcome {
        guard let location = locateGrubenv(config) else {
            return withoutGrubenv("grubenv " + config.grubenv + " is not reachable")
        }
        let outcome = scheduleFallback(config: config, reason: reason, location: location)
        if let mountPoint = location.mountPoint, let error = platform.unmount(mountPoint) {
            platform.log(.warning, "cannot unmount " + mountPoint + ": " + error.description)
        }
        switch outcome {
        case .fallbackScheduled:
            record(outcome)
            rebootUnlessAsked()
        case .grubenvUnreachable:
            return withoutGrubenv("grubenv " + location.grubenv + " cannot be updated")
        default:
            record(outcome)
        }
        return outcome
    }

    mutating func locateGrubenv(_ config: GuardConfig) -> BootLocation? {
        let direct = root.path(config.grubenv)
        if platform.exists(direct) {
            return BootLocation(grubenv: direct, bootDirectory: root.boot, mountPoint: nil)
        }
        guard let device = config.bootDevice else {
            platform.log(.error, direct + " does not exist and BOOT_DEVICE is not set")
            return nil
        }
        let mountPoint = root.bootMountPoint
        let deadline = platform.now() + Int64(max(config.waitTimeout, 5)) * 1000
        if let error = platform.mount(device, at: mountPoint, deadline: deadline) {
            platform.log(.error, "cannot mount BOOT_DEVICE " + device.description + ": " + error.description)
            return nil
        }
        // BOOT_DEVICE is normally the /boot filesystem (grubenv at /grub/grubenv on it); it may
        // also be a root filesystem that holds /boot as a directory.
        let bootPrefix = Array("/boot/".utf8)
        let grubenvBytes = Array(config.grubenv.utf8)
        if grubenvBytes.starts(with: bootPrefix) {
            let inside = mountPoint + String(decoding: grubenvBytes.dropFirst(bootPrefix.count - 1), as: UTF8.self)
            if platform.exists(inside) {
                return BootLocation(grubenv: inside, bootDirectory: mountPoint, mountPoint: mountPoint)
            }
        }
        let nested = mountPoint + config.grubenv
        if platform.exists(nested) {
            return BootLocation(grubenv: nested, bootDirectory: mountPoint + "/boot", mountPoint: mountPoint)
        }
        platform.log(.error, "BOOT_DEVICE " + device.description + " holds no " + config.grubenv)
        if let error = platform.unmount(mountPoint) {
            platform.log(.warning, "cannot unmount " + mountPoint + ": " + error.description)
        }
        return nil
    }

    mutating func scheduleFallback(config: GuardConfig, reason: String, location: BootLocation) -> GuardOutcome {
        var block: GrubEnvBlock
        switch platform.readFile(location.grubenv, limit: GrubEnvBlock.size + 1) {
        case .failure(let error):
            platform.log(.error, "cannot read grubenv: " + error.description)
            return .grubenvUnreachable
        case .success(let bytes):
            do {
                block = try GrubEnvBlock(bytes)
            } catch {
                platform.log(.error, location.grubenv + " is not a GRUB environment block (" + error.description + "); not touching it")
                return .grubenvUnreachable
            }
        }

        let attempts = block.value(GrubEnvKey.attempts).flatMap { parseInteger($0, in: 0...1_000_000) } ?? 0
        let lastGood = block.value(GrubEnvKey.lastGood).flatMap { KernelRelease($0) }
        let grubConfigPath = parentDirectory(location.grubenv) + "/grub.cfg"
        let menu: GrubMenu
        switch platform.readFile(grubConfigPath, limit: 4 * 1024 * 1024) {
        case .success(let bytes): menu = GrubMenu(parsing: bytes)
        case .failure(let error):
            platform.log(.error, "cannot read " + grubConfigPath + ": " + error.description)
            menu = GrubMenu(entries: [])
        }
        let installed = installedKernels(config: config, bootDirectory: location.bootDirectory, menu: menu)
        let decision = FallbackPolicy.decide(
            running: kernel, lastGood: lastGood, installed: installed,
            attempts: attempts, maxAttempts: config.maxAttempts, policy: config.onFailure)

        switch decision {
        case .giveUp(let why):
            switch why {
            case .attemptsExceeded(let done, let limit):
                platform.log(.error, "GIVING UP: " + String(done) + " fallbacks in a row already (MAX_ATTEMPTS=" + String(limit)
                    + "); not rebooting again, the boot continues")
            case .noCandidate:
                for kernel in installed {
                    let rejection = FallbackPolicy.rejection(of: kernel, running: self.kernel, isLastGood: kernel.release == lastGood)
                    platform.log(.error, "not a fallback: " + kernel.release.string + ": " + (rejection ?? "?"))
                }
                platform.log(.error, "GIVING UP: no other installed kernel has the guarded modules; the boot continues")
            case .policyContinue:
                platform.log(.error, "ON_FAILURE=continue: the boot continues")
            case .rebootWouldRepeat:
                // Only `withoutGrubenv` gives up for this reason; here grubenv was reached.
                break
            }
            return .gaveUp(why)
        case .boot(let target, let isLastGood):
            guard let path = target.menuPath else { return .gaveUp(.noCandidate) }
            if let lastGood, !isLastGood {
                let lastGoodKernel = installed.first(where: { $0.release == lastGood })
                let rejection = lastGoodKernel.flatMap {
                    FallbackPolicy.rejection(of: $0, running: kernel, isLastGood: true)
                } ?? "not installed"
                platform.log(.warning, "kmodguard_last_good " + lastGood.string + " unusable: " + rejection)
            }
            var updated = block
            let attemptText = String(attempts + 1)
            do {
                try updated.apply(assignments: [
                    GrubEnvKey.nextEntry + "=" + path,
                    GrubEnvKey.failed + "=" + kernel.string,
                    GrubEnvKey.reason + "=" + clipped(reason, to: 160),
                    GrubEnvKey.attempts + "=" + attemptText,
                ])
            } catch {
                // A crowded block: the next entry matters, the reason is a courtesy.
                updated = block
                do {
                    try updated.apply(assignments: [
                        GrubEnvKey.nextEntry + "=" + path, GrubEnvKey.failed + "=" + kernel.string,
                        GrubEnvKey.attempts + "=" + attemptText,
                    ])
                } catch {
                    platform.log(.error, "grubenv has no room for next_entry (" + error.description + ")")
                    return .grubenvUnreachable
                }
            }
            platform.log(.error, "scheduling fallback to " + target.release.string + (isLastGood ? " (last good)" : " (newest with the modules)")
                + ": next_entry=" + path + ", attempt " + attemptText + " of " + String(config.maxAttempts)
                + " in " + location.grubenv)
            if noWrite {
                platform.log(.notice, "--no-write: grubenv left unchanged")
            } else if let error = platform.overwriteInPlace(location.grubenv, with: updated.bytes) {
                platform.log(.error, "cannot write grubenv: " + error.description)
                return .grubenvUnreachable
            }
            return .fallbackScheduled(target.release)
        }
    }

    mutating func installedKernels(config: GuardConfig, bootDirectory: String, menu: GrubMenu) -> [InstalledKernel] {
        var releases: [KernelRelease] = []
        switch platform.listDirectory(bootDirectory) {
        case .failure(let error):
            platform.log(.error, "cannot list " + bootDirectory + ": " + error.description)
        case .success(let names):
            let prefix = Array("vmlinuz-".utf8)
            for name in names where name.utf8.starts(with: prefix) {
                if let release = KernelRelease(String(decoding: name.utf8.dropFirst(prefix.count), as: UTF8.self)) {
                    releases.append(release)
                }
            }
        }
        let verified = verifiedKernels()
        return releases.sorted(by: >).map { release in
            var availability = platform.moduleAvailability(config.modules, kernel: release)
            if case .notVisible = availability { availability = .notVisible(verified: verified.contains(release)) }
            return InstalledKernel(release: release, hasImage: true, menuPath: menu.entry(for: release)?.path, modules: availability)
        }
    }

    func verifiedKernels() -> [KernelRelease] {
        guard case .success(let bytes) = platform.readFile(root.verifiedKernels, limit: 64 * 1024) else { return [] }
        return ShellAssignmentParser.splitLines(bytes).compactMap { line in
            KernelRelease(String(decoding: line, as: UTF8.self))
        }
    }

    /// grubenv cannot be written: reboot only when GRUB's `kmodguard.boot=` marker says the next
    /// GRUB run differs from this one (`FallbackPolicy.withoutGrubenv`); otherwise a reboot would
    /// boot this kernel again, forever, so say so and let the boot go on.
    mutating func withoutGrubenv(_ why: String) -> GuardOutcome {
        let marker: String?
        switch platform.readFile(root.kernelCommandLine, limit: 64 * 1024) {
        case .success(let bytes): marker = BootMarker.value(in: bytes)
        case .failure(let error):
            platform.log(.warning, "cannot read the kernel command line: " + error.description)
            marker = nil
        }
        switch FallbackPolicy.withoutGrubenv(marker: marker) {
        case .rebootIntoGrubFallback:
            platform.log(.error, why + ": a reboot at once lets GRUB's trial counter boot the last good kernel ("
                + BootMarker.describe(marker) + (marker == BootMarker.once
                    ? ": a one-shot next_entry boot, GRUB takes its normal path next)" : ": GRUB recorded this boot as a trial)"))
            record(.grubenvUnreachable)
            rebootUnlessAsked()
            return .grubenvUnreachable
        case .giveUp(let reason):
            platform.log(.error, "GIVING UP: " + why + " and GRUB recorded no trial it can fall back from ("
                + BootMarker.describe(marker) + "): a reboot would boot this kernel again; not rebooting, the boot continues")
            record(.gaveUp(reason))
            return .gaveUp(reason)
        }
    }

    mutating func rebootUnlessAsked() {
        if noReboot {
            platform.log(.notice, "--no-reboot: not rebooting")
            return
        }
        platform.log(.error, "rebooting now")
        let error = platform.reboot()
        platform.log(.error, "reboot failed: " + error.description + "; the boot continues")
    }
}

/// At most `limit` bytes of `text`, cut at a character boundary, without newlines.
func clipped(_ text: String, to limit: Int) -> String {
    var result = ""
    var count = 0
    for character in text {
        let size = character.utf8.count
        if count + size > limit { break }
        result.append(character == "\n" ? " " : character)
        count += size
    }
    return result
}
