/// The guard's whole decision, as a pure function of what it saw (`GuardObservation`) to what it
/// does (`GuardPlan`: the outcome, the grubenv changes, whether to reboot, the log lines).
/// `EarlyGuard` gathers the observation and carries the plan out; nothing here touches the machine.
///
/// 1. Every module loads and every WAIT_FOR device appears: passed, nothing written.
/// 2. ON_FAILURE=continue: give up at once, grubenv untouched.
/// 3. grubenv cannot be found, read, parsed, fitted or written: reboot at once only when GRUB's
///    `kmodguard.boot=` marker says its next run differs (`FallbackPolicy.withoutGrubenv`),
///    otherwise give up (a reboot would boot this kernel again).
/// 4. Otherwise `FallbackPolicy.decide` picks the kernel (or gives up: attempts exceeded, no
///    candidate); the plan sets next_entry, kmodguard_failed, kmodguard_reason (dropped first
///    when the block is crowded) and kmodguard_attempts, and reboots.
public enum GuardPlanner {
    public static func plan(_ seen: GuardObservation) -> GuardPlan {
        var log = Log()
        let config = seen.config
        if config.modules.isEmpty && config.waitFor.isEmpty {
            log.add(.notice, "nothing to guard (MODULES and WAIT_FOR are empty)")
            return GuardPlan(.passed, log: log.lines)
        }
        guard let failure = storageFailure(seen, &log) else {
            log.add(.info, "kernel " + seen.kernel.string + ": " + describe(config) + ": ok")
            return GuardPlan(.passed, log: log.lines)
        }
        log.add(.error, "kernel " + seen.kernel.string + " cannot reach its storage: " + failure)
        if config.onFailure == .continue {
            log.add(.error, "ON_FAILURE=continue: not scheduling a fallback; the boot continues and may not find its root")
            return GuardPlan(.gaveUp(.policyContinue), log: log.lines)
        }
        guard let boot = seen.boot else { return GuardPlan(.passed, log: log.lines, needsBootFiles: true) }

        switch boot.grubenv {
        case .found:
            break
        case .absent(let path):
            log.add(.error, path + " does not exist and BOOT_DEVICE is not set")
        case .mountFailed(let device, let error):
            log.add(.error, "cannot mount BOOT_DEVICE " + device.description + ": " + error.description)
        case .notOnBootDevice(let device):
            log.add(.error, "BOOT_DEVICE " + device.description + " holds no " + config.grubenv)
        }
        guard case .found(let files) = boot.grubenv else {
            return withoutGrubenv("grubenv " + config.grubenv + " is not reachable", boot, log)
        }
        let cannotUpdate = "grubenv " + files.grubenvPath + " cannot be updated"
        let block: GrubEnvBlock
        switch files.grubenv {
        case .failure(let error):
            log.add(.error, "cannot read grubenv: " + error.description)
            return withoutGrubenv(cannotUpdate, boot, log)
        case .success(let bytes):
            do {
                block = try GrubEnvBlock(bytes)
            } catch {
                log.add(.error, files.grubenvPath + " is not a GRUB environment block (" + error.description + "); not touching it")
                return withoutGrubenv(cannotUpdate, boot, log)
            }
        }
        let state = GrubState(block)
        let installed = installedKernels(files, &log)

        switch FallbackPolicy.decide(running: seen.kernel, lastGood: state.lastGood, installed: installed,
                                     attempts: state.attempts, maxAttempts: config.maxAttempts) {
        case .giveUp(let why):
            switch why {
            case .attemptsExceeded(let done, let limit):
                log.add(.error, "GIVING UP: " + String(done) + " fallbacks in a row already (MAX_ATTEMPTS=" + String(limit)
                    + "); not rebooting again, the boot continues")
            case .noCandidate:
                for kernel in installed {
                    let rejection = FallbackPolicy.rejection(of: kernel, running: seen.kernel, isLastGood: kernel.release == state.lastGood)
                    log.add(.error, "not a fallback: " + kernel.release.string + ": " + (rejection ?? "?"))
                }
                log.add(.error, "GIVING UP: no other installed kernel has the guarded modules; the boot continues")
            case .policyContinue, .rebootWouldRepeat:
                break  // decided above, never by FallbackPolicy.decide
            }
            return GuardPlan(.gaveUp(why), log: log.lines)
        case .boot(let target, let isLastGood):
            guard let path = target.menuPath else { return GuardPlan(.gaveUp(.noCandidate), log: log.lines) }
            if let lastGood = state.lastGood, !isLastGood {
                let rejection = installed.first(where: { $0.release == lastGood }).flatMap {
                    FallbackPolicy.rejection(of: $0, running: seen.kernel, isLastGood: true)
                } ?? "not installed"
                log.add(.warning, "kmodguard_last_good " + lastGood.string + " unusable: " + rejection)
            }
            let attempt = String(state.attempts + 1)
            var changes: [GrubChange] = [
                .set(KmodguardVariable.nextEntry, path),
                .set(KmodguardVariable.failed, seen.kernel.string),
                .set(KmodguardVariable.reason, clipped(failure, to: 160)),
                .set(KmodguardVariable.attempts, attempt),
            ]
            var updated = block
            do {
                try updated.apply(changes)
            } catch {
                // A crowded block: the next entry matters, the reason is a courtesy.
                changes.removeAll { $0.name == KmodguardVariable.reason }
                do {
                    try updated.apply(changes)
                } catch {
                    log.add(.error, "grubenv has no room for next_entry (" + error.description + ")")
                    return withoutGrubenv(cannotUpdate, boot, log)
                }
            }
            log.add(.error, "scheduling fallback to " + target.release.string + (isLastGood ? " (last good)" : " (newest with the modules)")
                + ": next_entry=" + path + ", attempt " + attempt + " of " + String(config.maxAttempts) + " in " + files.grubenvPath)
            if let error = boot.writeError {
                log.add(.error, "cannot write grubenv: " + error.description)
                return withoutGrubenv(cannotUpdate, boot, log)
            }
            return GuardPlan(.fallbackScheduled(target.release),
                             grubenvUpdate: GrubenvUpdate(path: files.grubenvPath, changes: changes, block: updated),
                             reboot: true, log: log.lines)
        }
    }

    /// `--check`: the modules only, no devices, no fallback.
    public static func check(_ seen: GuardObservation) -> (passed: Bool, log: [GuardLogLine]) {
        var log = Log()
        var modulesOnly = seen
        modulesOnly.missingDevices = []
        guard let failure = storageFailure(modulesOnly, &log) else { return (true, log.lines) }
        log.add(.error, "kernel " + seen.kernel.string + ": " + failure)
        return (false, log.lines)
    }

    /// Nil when every module loaded and every device appeared; otherwise the reason.
    static func storageFailure(_ seen: GuardObservation, _ log: inout Log) -> String? {
        var reasons: [String] = []
        // /dev/kmsg takes about 10 records per 5 s from one writer: detail lines for the first
        // few failures only, so the decision lines that follow are never rate-limited away.
        let detailLimit = 3
        for module in seen.modules {
            if let failure = module.failure {
                if reasons.count < detailLimit { log.add(.error, "module " + module.name + ": " + failure.detail) }
                reasons.append(module.name + ": " + failure.summary)
            } else if seen.modules.count <= detailLimit {
                log.add(.info, "module " + module.name + ": " + (seen.dryRun ? "resolves and matches " + seen.kernel.string : "loaded"))
            }
        }
        if !reasons.isEmpty { return reasons.joined(separator: ", ") }
        for tag in seen.missingDevices {
            let message = "device " + tag.description + " did not appear within " + String(seen.config.waitTimeout) + "s"
            log.add(.error, message)
            reasons.append(message)
        }
        return reasons.isEmpty ? nil : reasons.joined(separator: ", ")
    }

    static func describe(_ config: GuardConfig) -> String {
        var parts: [String] = []
        if !config.modules.isEmpty { parts.append("modules " + config.modules.joined(separator: " ")) }
        if !config.waitFor.isEmpty { parts.append("devices " + config.waitFor.map { $0.description }.joined(separator: " ")) }
        return parts.joined(separator: ", ")
    }

    /// The kernels with an image in the boot directory, newest first, with their menu entries and
    /// (for trees not visible from here) whether they are in the verified list.
    static func installedKernels(_ files: BootFiles, _ log: inout Log) -> [InstalledKernel] {
        let menu: GrubMenu
        switch files.menu {
        case .success(let parsed): menu = parsed
        case .failure(let error):
            log.add(.error, "cannot read " + files.grubConfigPath + ": " + error.description)
            menu = GrubMenu(entries: [])
        }
        if let error = files.listError {
            log.add(.error, "cannot list " + files.bootDirectory + ": " + error.description)
        }
        let kernels = files.kernels.map { kernel in
            var availability = kernel.modules
            if case .notVisible = availability { availability = .notVisible(verified: files.verified.contains(kernel.release)) }
            return InstalledKernel(release: kernel.release, hasImage: kernel.hasImage, menuPath: menu.entry(for: kernel.release)?.path,
                                   modules: availability)
        }
        return kernels.sorted { $0.release > $1.release }
    }

    /// grubenv cannot be written: reboot only when GRUB's `kmodguard.boot=` marker says the next
    /// GRUB run differs from this one; otherwise a reboot would boot this kernel again, forever,
    /// so say so and let the boot go on.
    static func withoutGrubenv(_ why: String, _ boot: BootObservation, _ log: Log) -> GuardPlan {
        var log = log
        let marker: String?
        switch boot.commandLine {
        case .success(let bytes): marker = BootMarker.value(in: bytes)
        case .failure(let error):
            log.add(.warning, "cannot read the kernel command line: " + error.description)
            marker = nil
        }
        switch FallbackPolicy.withoutGrubenv(marker: marker) {
        case .rebootIntoGrubFallback:
            log.add(.error, why + ": a reboot at once lets GRUB's trial counter boot the last good kernel ("
                + BootMarker.describe(marker) + (marker == BootMarker.once
                    ? ": a one-shot next_entry boot, GRUB takes its normal path next)" : ": GRUB recorded this boot as a trial)"))
            return GuardPlan(.grubenvUnreachable, reboot: true, log: log.lines)
        case .giveUp(let reason):
            log.add(.error, "GIVING UP: " + why + " and GRUB recorded no trial it can fall back from ("
                + BootMarker.describe(marker) + "): a reboot would boot this kernel again; not rebooting, the boot continues")
            return GuardPlan(.gaveUp(reason), log: log.lines)
        }
    }

    struct Log {
        var lines: [GuardLogLine] = []
        mutating func add(_ level: LogLevel, _ text: String) { lines.append(GuardLogLine(level, text)) }
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

/// The two tables the planner consults: which kernel to fall back to, and whether a reboot helps
/// when grubenv is out of reach.
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
        maxAttempts: Int
    ) -> FallbackDecision {
        if attempts >= maxAttempts { return .giveUp(.attemptsExceeded(attempts: attempts, limit: maxAttempts)) }
        if let lastGood, let kernel = installed.first(where: { $0.release == lastGood }),
           rejection(of: kernel, running: running, isLastGood: true) == nil {
            return .boot(kernel, lastGood: true)
        }
        let others = installed
            .filter { rejection(of: $0, running: running, isLastGood: false) == nil }
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

    /// Why `kernel` cannot be a fallback, or nil when it can. A tree not visible from here counts
    /// when the kernel is verified, or is `kmodguard_last_good` (verified when it was recorded).
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
