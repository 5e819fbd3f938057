import CSystem
import KmodguardCore
import KmodguardSystem

/// `kmodguard-early`: the initramfs guard. Embedded Swift, statically linked; it must never trap,
/// so every input is validated and every failure becomes an exit code.
@main
struct KmodguardEarly {
    static func main() {
        exit(run())
    }

    static func run() -> Int32 {
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
            return 64
        }
        if options.help {
            writeStandardOutput(GuardArguments.helpText + "\n")
            return 0
        }
        if options.version {
            writeStandardOutput("kmodguard-early " + kmodguardVersion + "\n")
            return 0
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
        let kernelText = options.kernel ?? Power.runningKernel() ?? ""
        guard let kernel = KernelRelease(kernelText) else {
            logger.log(.error, "cannot tell the kernel release ('" + kernelText + "'); guard skipped")
            return 4
        }
        var guardRun = EarlyGuard(platform: LiveGuardPlatform(root: root, logger: logger), root: root, kernel: kernel,
                                  dryRun: options.dryRun, noWrite: options.noWrite, noReboot: options.noReboot)
        guard let config = guardRun.loadConfig(path: options.config ?? root.config) else { return 4 }
        if options.checkOnly { return guardRun.checkModules(config: config) == .passed ? 0 : 1 }
        return guardRun.run(config: config).exitCode
    }

    static func writeStandardOutput(_ text: String) { write(fd: 1, text) }
    static func writeStandardError(_ text: String) { write(fd: 2, text) }

    static func write(fd: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { CSystem.write(fd, $0.baseAddress, $0.count) }
    }
}
