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
        let grub = snapshot.grub
        let next: KernelRelease?
        if let entry = grub.nextEntry {
            next = snapshot.menu.entries.first { $0.path == entry || $0.id == entry }?.kernel
        } else if let pin = grub.pin {
            next = snapshot.menu.entries.first { $0.path == pin }?.kernel
        } else {
            next = snapshot.defaultKernel
        }
        let goodEntry = snapshot.guardPassed ? snapshot.runningEntry : grub.goodEntry
        guard let next else {
            logger.info("next boot: cannot tell which kernel GRUB picks; nothing to do")
            return
        }
        if snapshot.hasDriver(next) {
            // A kernel that has not booted with the guard passing gets GRUB's trial counter, so a
            // boot that cannot even write grubenv still comes back to the good entry.
            let lastGood = snapshot.guardPassed ? snapshot.running : grub.lastGood
            guard grub.nextEntry == nil, grub.pin == nil,
                  CompletionPlanner.needsTrial(defaultKernel: next, lastGood: lastGood, running: snapshot.running,
                                               guardPassed: snapshot.guardPassed, grub: grub) else {
                logger.info("next boot: \(next.string) has its driver; nothing to do")
                return
            }
            try update(snapshot, CompletionPlanner.trial(for: next, goodEntry: goodEntry))
            logger.notice("next boot: \(next.string) has not booted with its driver yet: GRUB trial armed")
            return
        }
        guard let goodEntry else {
            logger.error("next boot picks \(next.string), which lacks its driver, and no good GRUB entry is known to pin")
            return
        }
        var changes: [GrubChange] = []
        if grub.nextEntry != nil {
            // GRUB honours a one-shot next_entry before kmodguard_pin (docs/grub.md, "Precedence"):
            // left set, it would boot this kernel without its driver despite the pin.
            changes.append(.unset(KmodguardVariable.nextEntry))
            logger.warning("next_entry would boot \(next.string), which lacks its driver: cleared it")
        }
        if grub.pin != goodEntry { changes.append(.set(KmodguardVariable.pin, goodEntry)) }
        guard !changes.isEmpty else { return }
        try update(snapshot, changes)
        logger.notice("next boot would pick \(next.string) without its driver: pinned \(goodEntry)")
    }

    func update(_ snapshot: SystemSnapshot, _ changes: [GrubChange]) throws {
        let file = GrubEnvFile(path: snapshot.grubenvPath)
        var block: GrubEnvBlock
        switch file.load(createIfMissing: true) {
        case .success(let loaded): block = loaded
        case .failure(let error): throw CommandError.grubenv(error)
        }
        do {
            try block.apply(changes)
        } catch {
            throw CommandError.grubenvChange(path: file.path, error)
        }
        if let error = file.save(block) { throw CommandError.grubenv(error) }
    }
}
