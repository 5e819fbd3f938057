import ArgumentParser
import KmodguardCompletion
import KmodguardCore
import KmodguardService
import KmodguardSystem
import Logging

/// `kmodguard prepare-shutdown`: what the vendor scripts do at shutdown, done safely.
struct PrepareShutdownCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prepare-shutdown",
        abstract: "Before shutdown: pin the last good kernel if the next boot would pick one without its driver.",
        discussion: """
        Run by kmodguard-shutdown.service when the machine goes down. The kernel the next boot \
        picks is next_entry's, else the pin's, else GRUB's default. If that kernel's module tree \
        lacks a working guarded module, kmodguard_pin is set to the last good entry so the bad \
        boot never happens; a next_entry naming that kernel is cleared, since GRUB honours it \
        before the pin. Never fails the shutdown: exit 0 unless the arguments are wrong.
        """
    )

    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: ArgumentHelp("Treat KVER as the running kernel (for a --root that is not booted).", valueName: "KVER"))
    var running: String?

    func run() throws {
        let logger = Logger(label: "kmodguard")
        do {
            try prepare(logger: logger)
        } catch {
            logger.error("prepare-shutdown: \(String(describing: error))")
        }
    }

    func prepare(logger: Logger) throws {
        let context = CommandContext(root: global.systemRoot)
        let snapshot = try SystemSnapshot.take(context: context, kernelOverride: running)
        guard !snapshot.config.modules.isEmpty else { return }
        let plan = ShutdownPlanner.plan(ShutdownPlanner.Observation(
            grub: snapshot.grub, menu: snapshot.menu, defaultKernel: snapshot.defaultKernel, running: snapshot.running,
            guardPassed: snapshot.guardPassed, withDriver: Set(snapshot.kernels.filter { snapshot.hasDriver($0) })))
        // Said once written: "cleared", "pinned" and "armed" are true only then (a failed write
        // is logged by run()).
        try GrubenvUpdate.apply(plan.changes, to: snapshot.grubenvPath)
        plan.messages.forEach { log($0, logger) }
    }

    func log(_ message: ShutdownPlanner.Message, _ logger: Logger) {
        switch message.severity {
        case .info: logger.info("\(message.text)")
        case .notice: logger.notice("\(message.text)")
        case .warning: logger.warning("\(message.text)")
        case .error: logger.error("\(message.text)")
        }
    }
}
