/// The early guard's hands: it gathers what `GuardPlanner` decides on (modules, devices, then,
/// only when asked, grubenv, grub.cfg, kernels) and carries the plan out (write grubenv, log,
/// record the outcome in /run, reboot), all through `Platform`, so every branch runs in tests
/// against a fake platform. The decision itself is in `GuardPlanner`.
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
    public mutating func checkModules(config: GuardConfig) -> Bool {
        var modulesOnly = config
        modulesOnly.waitFor = []
        let (passed, lines) = GuardPlanner.check(observeStorage(modulesOnly))
        for line in lines { platform.log(line.level, line.text) }
        return passed
    }

    /// Gathers, plans, carries the plan out; returns the outcome, recorded in /run.
    public mutating func run(config: GuardConfig) -> GuardOutcome {
        var seen = observeStorage(config)
        var plan = GuardPlanner.plan(seen)
        if plan.needsBootFiles {
            seen.boot = observeBoot(config)
            plan = GuardPlanner.plan(seen)
        }
        return execute(plan, seen)
    }

    // MARK: - Gather

    /// Loads the modules; waits for the devices only when every module loaded.
    public mutating func observeStorage(_ config: GuardConfig) -> GuardObservation {
        var seen = GuardObservation(kernel: kernel, config: config, dryRun: dryRun)
        var loaded = true
        for module in config.modules {
            let failure = platform.loadModule(module, kernel: kernel, dryRun: dryRun)
            if failure != nil { loaded = false }
            seen.modules.append(ModuleResult(module, failure))
        }
        guard loaded else { return seen }
        let deadline = platform.now() + Int64(config.waitTimeout) * 1000
        for tag in config.waitFor where !platform.waitForDevice(tag, deadline: deadline) {
            seen.missingDevices.append(tag)
        }
        return seen
    }

    /// Finds grubenv (under the root, or on BOOT_DEVICE, mounted for the purpose) and reads what
    /// lies beside it.
    public mutating func observeBoot(_ config: GuardConfig) -> BootObservation {
        var boot = BootObservation(grubenv: .absent(path: root.path(config.grubenv)),
                                   commandLine: platform.readFile(root.kernelCommandLine, limit: 64 * 1024))
        let direct = root.path(config.grubenv)
        if platform.exists(direct) {
            boot.grubenv = .found(readBootFiles(grubenv: direct, bootDirectory: root.boot, config: config))
            return boot
        }
        guard let device = config.bootDevice else { return boot }
        let mountPoint = root.bootMountPoint
        let deadline = platform.now() + Int64(max(config.waitTimeout, 5)) * 1000
        if let error = platform.mount(device, at: mountPoint, deadline: deadline) {
            boot.grubenv = .mountFailed(device, error)
            return boot
        }
        boot.mountPoint = mountPoint
        boot.grubenv = .notOnBootDevice(device)
        // BOOT_DEVICE is normally the /boot filesystem (grubenv at /grub/grubenv on it); it may
        // also be a root filesystem that holds /boot as a directory.
        let bootPrefix = Array("/boot/".utf8)
        let grubenvBytes = Array(config.grubenv.utf8)
        let inside = mountPoint + String(decoding: grubenvBytes.dropFirst(bootPrefix.count - 1), as: UTF8.self)
        let nested = mountPoint + config.grubenv
        if grubenvBytes.starts(with: bootPrefix), platform.exists(inside) {
            boot.grubenv = .found(readBootFiles(grubenv: inside, bootDirectory: mountPoint, config: config))
        } else if platform.exists(nested) {
            boot.grubenv = .found(readBootFiles(grubenv: nested, bootDirectory: mountPoint + "/boot", config: config))
        }
        return boot
    }

    mutating func readBootFiles(grubenv: String, bootDirectory: String, config: GuardConfig) -> BootFiles {
        let grubConfigPath = parentDirectory(grubenv) + "/grub.cfg"
        var verified: [KernelRelease] = []
        if case .success(let bytes) = platform.readFile(root.verifiedKernels, limit: 64 * 1024) {
            for line in ShellAssignmentParser.splitLines(bytes) {
                if let release = KernelRelease(String(decoding: line, as: UTF8.self)) { verified.append(release) }
            }
        }
        let menu: Result<GrubMenu, SystemError>
        switch platform.readFile(grubConfigPath, limit: 4 * 1024 * 1024) {
        case .success(let bytes): menu = .success(GrubMenu(parsing: bytes))
        case .failure(let error): menu = .failure(error)
        }
        var files = BootFiles(grubenvPath: grubenv, grubenv: platform.readFile(grubenv, limit: GrubEnvBlock.size + 1),
                              grubConfigPath: grubConfigPath, menu: menu, bootDirectory: bootDirectory, verified: verified)
        switch platform.listDirectory(bootDirectory) {
        case .failure(let error): files.listError = error
        case .success(let names):
            let prefix = Array("vmlinuz-".utf8)
            for name in names where name.utf8.starts(with: prefix) {
                if let release = KernelRelease(String(decoding: name.utf8.dropFirst(prefix.count), as: UTF8.self)) {
                    files.kernels.append(InstalledKernel(release: release, hasImage: true, menuPath: nil,
                                                         modules: platform.moduleAvailability(config.modules, kernel: release)))
                }
            }
        }
        return files
    }

    // MARK: - Execute

    /// The one place that writes grubenv, logs the decision, unmounts, records and reboots. A
    /// refused grubenv write is one more thing seen: the planner decides again with it.
    mutating func execute(_ first: GuardPlan, _ seen: GuardObservation) -> GuardOutcome {
        var plan = first
        var skippedWrite = false
        if let update = plan.grubenvUpdate {
            if noWrite {
                skippedWrite = true
            } else if let error = platform.overwriteInPlace(update.path, with: update.block.bytes) {
                var refused = seen
                refused.boot?.writeError = error
                plan = GuardPlanner.plan(refused)
            }
        }
        for line in plan.log { platform.log(line.level, line.text) }
        if skippedWrite { platform.log(.notice, "--no-write: grubenv left unchanged") }
        if let mountPoint = seen.boot?.mountPoint, let error = platform.unmount(mountPoint) {
            platform.log(.warning, "cannot unmount " + mountPoint + ": " + error.description)
        }
        record(plan.outcome)
        if plan.reboot { rebootUnlessAsked() }
        return plan.outcome
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
