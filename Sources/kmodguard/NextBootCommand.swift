import ArgumentParser
import KmodguardCore
import KmodguardService
import KmodguardSystem

/// `kmodguard next-boot KVER`: grub-reboot by kernel release.
struct NextBootCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "next-boot",
        abstract: "Boot KVER once on the next boot (grub-reboot by kernel release).",
        discussion: """
        Finds the menu entry of KVER in ROOT/boot/grub/grub.cfg (the "Advanced options" \
        submenu entry, recovery entries skipped) and sets next_entry to its full \
        submenu>entry id path in ROOT/boot/grub/grubenv. GRUB boots it once and clears it.
        """
    )

    @OptionGroup var global: GlobalOptions
    @Argument(help: ArgumentHelp("Kernel release, as uname -r prints it.", valueName: "KVER"))
    var kernel: String

    func run() throws {
        guard let release = KernelRelease(kernel) else { throw CommandError.invalidKernelRelease(kernel) }
        let root = global.systemRoot
        let menu: GrubMenu
        switch Files.read(root.grubConfig, limit: 16 * 1024 * 1024) {
        case .success(let bytes): menu = GrubMenu(parsing: bytes)
        case .failure(let error): throw CommandError.system(error)
        }
        guard let entry = menu.entry(for: release) else {
            throw CommandError.unknownKernel(kernel, grubConfig: root.grubConfig, known: menu.kernels)
        }
        let file = GrubEnvFile(path: root.defaultGrubenv)
        var block: GrubEnvBlock
        switch file.load() {
        case .success(let loaded): block = loaded
        case .failure(let error): throw CommandError.grubenv(error)
        }
        do {
            try block.set(KmodguardVariable.nextEntry, entry.path)
        } catch {
            throw CommandError.grubenvChange(path: file.path, error)
        }
        if let error = file.save(block) { throw CommandError.grubenv(error) }
        print("next_entry=" + entry.path)
        print("kernel " + release.string + " boots once on the next boot (" + file.path + ")")
    }
}
