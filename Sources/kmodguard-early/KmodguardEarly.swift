import CSystem
import KmodguardCore
import KmodguardSystem

/// `kmodguard-early`: the initramfs guard. Embedded Swift, statically linked; it must never trap,
/// so every input is validated and every failure becomes an exit code (`GuardExit`).
@main
struct KmodguardEarly {
    static func main() {
        exit(run())
    }

    static func run() -> Int32 {
        let started = MonotonicClock.milliseconds()
        var arguments: [String] = []
        var index: Int32 = 1
        while index < kg_argc() {
            if let raw = kg_argv(index) { arguments.append(String(cString: raw)) }
            index += 1
        }
        let options: GuardArguments
        do {
            options = try GuardArguments.parse(arguments)
        } catch {
            writeStandardError("kmodguard-early: " + error.message + "\n")
            if arguments.contains("--summary") {
                summarize(.usageError, since: started, options: GuardArguments(), logger: Kmsg(useKmsg: true, root: SystemRoot("/")))
            }
            return GuardExit.usageError.code
        }
        if options.help {
            writeStandardOutput(GuardArguments.helpText + "\n")
            return GuardExit.informed.code
        }
        if options.version {
            writeStandardOutput("kmodguard-early " + kmodguardVersion + "\n")
            return GuardExit.informed.code
        }
        let root = SystemRoot(options.root)
        let useKmsg: Bool
        switch options.log {
        case .kmsg: useKmsg = true
        case .stderr: useKmsg = false
        // --check runs at image-build time on the build host: its kernel log is not the place.
        case .auto: useKmsg = root.isHost && !options.checkOnly
        }
        let logger = Kmsg(useKmsg: useKmsg, root: SystemRoot("/"))
        let result = guardRun(options, root: root, logger: logger)
        if options.summary { summarize(result, since: started, options: options, logger: logger) }
        return result.code
    }

    static func guardRun(_ options: GuardArguments, root: SystemRoot, logger: Kmsg) -> GuardExit {
        let kernelText = options.kernel ?? KernelIdentity.release() ?? ""
        guard let kernel = KernelRelease(kernelText) else {
            logger.log(.error, "cannot tell the kernel release ('" + kernelText + "'); guard skipped")
            return .guarded(.configInvalid)
        }
        var guardRun = EarlyGuard(platform: LiveGuardPlatform(root: root, logger: logger), root: root, kernel: kernel,
                                  dryRun: options.dryRun, noWrite: options.noWrite, noReboot: options.noReboot)
        guard let config = guardRun.loadConfig(path: options.config ?? root.config) else { return .guarded(.configInvalid) }
        if options.checkOnly { return .checked(passed: guardRun.checkModules(config: config)) }
        return .guarded(guardRun.run(config: config))
    }

    /// The hooks' line, under their name: the guard returned (a reboot never does).
    static func summarize(_ result: GuardExit, since started: Int64, options: GuardArguments, logger: Kmsg) {
        let line = result.summary(milliseconds: MonotonicClock.milliseconds() - started,
                                  dryRun: options.noWrite && options.noReboot, noReboot: options.noReboot)
        logger.log(line.level, line.text, source: "kmodguard-hook")
    }

    static func writeStandardOutput(_ text: String) { write(fd: 1, text) }
    static func writeStandardError(_ text: String) { write(fd: 2, text) }

    static func write(fd: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { CSystem.write(fd, $0.baseAddress, $0.count) }
    }
}
