import ArgumentParser
import Foundation
import KmodguardCompletion
import KmodguardCore
import KmodguardService
import KmodguardSystem
import Logging

/// `kmodguard kernel-removed KVER`: forget a kernel whose package is being removed.
struct KernelRemovedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernel-removed",
        abstract: "Forget a removed kernel: clear grubenv variables and state that name it.",
        discussion: """
        Run by /etc/kernel/postrm.d/zz-kmodguard. GRUB 2.06 silently boots its first entry when \
        a pin or good entry names a menu entry that no longer exists, which may be exactly the \
        kernel without a driver; so a kmodguard_pin or kmodguard_good_entry that names KVER moves \
        to the newest other kernel whose driver works (or is removed when there is none), \
        kmodguard_last_good and a trial of KVER are removed, and so is KVER's record in state.json. Never fails \
        the package removal: exit 0 unless the arguments are wrong.
        """
    )

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("The removed kernel release.", valueName: "KVER"))
    var kernel: String

    func run() throws {
        let logger = Logger(label: "kmodguard")
        guard let release = KernelRelease(kernel) else { throw CommandError.invalidKernelRelease(kernel) }
        do {
            try forget(release, logger: logger)
        } catch {
            logger.error("kernel-removed \(release.string): \(String(describing: error))")
        }
    }

    func forget(_ release: KernelRelease, logger: Logger) throws {
        let context = CommandContext(root: global.systemRoot)
        let lock = try StateLock.acquire(root: context.root, logger: logger)
        defer { lock.release() }
        let snapshot = try SystemSnapshot.take(context: context)
        let candidates = snapshot.kernels.map {
            KernelRemoval.Candidate(kernel: $0, entryPath: snapshot.menu.entry(for: $0)?.path, hasDriver: snapshot.hasDriver($0))
        }
        let replacement = KernelRemoval.replacement(removing: release, candidates: candidates)
        if snapshot.grubenv != nil {
            let changes = KernelRemoval.changes(removing: release, grub: snapshot.grub, replacement: replacement)
            if try GrubenvUpdate.apply(changes, to: snapshot.grubenvPath, createIfMissing: false) {
                logger.notice("kernel \(release.string) removed: \(changes.map(\.description).joined(separator: ", "))")
            }
        }
        let store = StateStore(root: context.root)
        var state = try store.load()
        if state.kernels.removeValue(forKey: release.string) != nil { try store.save(state) }
    }
}
