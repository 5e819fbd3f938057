import ArgumentParser
import Foundation
import KmodguardCompletion
import KmodguardCore
import KmodguardService
import KmodguardSystem
import Logging

/// `kmodguard complete`: the service entry point (kmodguard-complete.service).
struct CompleteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "complete",
        abstract: "Record this boot, build the driver for every kernel lacking it, and activate the newest.",
        discussion: """
        Idempotent; run by kmodguard-complete.service after every boot. If the guard passed, \
        records the running kernel as last good and blesses a trial boot; moves a fallback \
        recorded in grubenv into the history; for each installed kernel (newest first) whose \
        guarded modules do not resolve: builds the driver, installs it under updates/, runs \
        depmod, rebuilds that kernel's initramfs and verifies the module is inside; then \
        activates the default kernel per ACTIVATE (reboot, next-boot, none). A failed build pins \
        the working kernel and is retried only when the kernels, the driver or the configuration \
        change; a driver download that failed in a way that may pass (5xx, timeout, refused \
        connection) is retried on the next run. A /boot without room for the new image is refused before \
        the generator runs (status names the bytes needed and free) and retried on the next run. One \
        run at a time: a kernel hook waits for the service (lock /var/lib/kmodguard/lock). ACTIVATE=reboot \
        waits up to 30 minutes for a running dpkg or apt before rebooting; if it still runs, the next \
        reboot boots the new kernel. Exit status 0 when every kernel has its driver, 1 otherwise.
        """
    )

    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: ArgumentHelp("Treat KVER as the running kernel (for a --root that is not booted).", valueName: "KVER"))
    var running: String?
    @Flag(name: .long, help: "Never reboot, even with ACTIVATE=reboot (the grubenv changes are still made).")
    var noReboot = false
    @Flag(name: .long, help: "Run from a kernel install hook: never reboot, always exit 0 (problems are logged and shown by status).")
    var hook = false

    func run() throws {
        do {
            try complete()
        } catch {
            guard hook else { throw error }
            Logger(label: "kmodguard").error("\(String(describing: error))")
        }
    }

    func complete() throws {
        let logger = Logger(label: "kmodguard")
        let context = CommandContext(root: global.systemRoot)
        // Taken before the snapshot: a run that waited sees what the other run left.
        let lock = try StateLock.acquire(root: context.root, logger: logger)
        let snapshot = try SystemSnapshot.take(context: context, kernelOverride: running)
        let store = StateStore(root: context.root)
        var completion = CompletionRun(steps: LiveCompletionSteps(context: context, snapshot: snapshot), snapshot: snapshot,
                                       state: try store.load(), now: WallClock.timestamp())
        completion.onMessage = { logger.info("\($0)") }
        completion.perform()
        try store.save(completion.state)
        if try GrubenvUpdate.apply(completion.grubChanges, to: snapshot.grubenvPath) {
            logger.info("grubenv updated: \(completion.grubChanges.map(\.description).joined(separator: ", "))")
        }
        exportMetrics(context: context, config: snapshot.config, logger: logger)
        // Released before waiting for dpkg: a kernel hook that dpkg runs may be waiting for it.
        lock.release()

        if let kernel = completion.rebootInto {
            if noReboot || hook || !context.root.isHost {
                logger.notice("not rebooting into \(kernel.string) (--no-reboot or --root)")
            } else if let holder = packageManagerStillRunning(logger: logger) {
                logger.warning("""
                    not rebooting into \(kernel.string): a package manager (pid \(holder)) has been running for \
                    \(Self.packageManagerWaitSeconds / 60) minutes; a reboot now could leave packages half-configured. \
                    The next reboot boots \(kernel.string) (next_entry is set, GRUB's trial armed)
                    """)
            } else {
                logger.notice("rebooting into \(kernel.string)")
                // --no-block: a blocking `systemctl reboot` from inside kmodguard-complete.service
                // waits for the shutdown transaction, which stops (kills) this very unit. Even
                // with it, the stop job's SIGTERM can arrive before this process has exited
                // (seen in the e2e): ignore it; the state and grubenv are already written.
                if let error = Power.ignoreTermination() { logger.warning("\(error.description)") }
                let reboot = Files.exists("/run/systemd/system")
                    ? ExternalCommand("/usr/bin/systemctl", ["reboot", "--no-block"]) : ExternalCommand("/sbin/reboot")
                let result = try context.run(reboot)
                if !result.succeeded { logger.error("reboot failed: \(result.output)") }
            }
        }
        if completion.failures > 0 && !hook { throw ExitCode.failure }
    }

    /// How long a reboot waits for dpkg or apt to finish (a kernel package's hooks rebuild
    /// initramfs images and may build drivers: minutes).
    static let packageManagerWaitSeconds = 30 * 60

    /// Waits while dpkg or apt holds its lock (the reboot would interrupt it); returns the
    /// holder's pid if it still runs after the wait.
    func packageManagerStillRunning(logger: Logger) -> Int32? {
        let holder = FileLock.waitForPosixLocks(["/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/lock"],
                                                timeoutSeconds: Self.packageManagerWaitSeconds) { pid in
            logger.notice("waiting for the package manager (pid \(pid)) to finish before rebooting")
        }
        return holder > 0 ? holder : nil
    }

    /// The status after this run, as Prometheus metrics (METRICS_FILE): read again, so the
    /// metrics say what `status --json` would say now.
    func exportMetrics(context: CommandContext, config: GuardConfig, logger: Logger) {
        guard let path = MetricsExport.destination(config.metricsFile, root: context.root) else { return }
        do {
            let report = try StatusReport.current(context: context, running: running)
            if let error = MetricsExport.write(report, to: path) {
                logger.warning("metrics not written: \(error.description)")
            }
        } catch {
            logger.warning("metrics not written: \(error.description)")
        }
    }
}
