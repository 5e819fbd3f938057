/// The two initramfs generators Linux distributions use, and what kmodguard needs to know about
/// each: the programs, where kmodguard's hook lives, the image name the distribution expects.
package enum InitramfsGeneratorKind: String, CaseIterable, Sendable, CustomStringConvertible {
    /// Debian's default: `mkinitramfs` (driven by `update-initramfs`), listed by `lsinitramfs`.
    case initramfsTools = "initramfs-tools"
    /// Fedora's, RHEL's, openSUSE's (and optional on Debian): `dracut`, listed by `lsinitrd`.
    case dracut

    package var description: String { rawValue }

    /// The program that builds an image.
    package var builderName: String {
        switch self {
        case .initramfsTools: return "mkinitramfs"
        case .dracut: return "dracut"
        }
    }

    /// The program that lists an image's files.
    package var listerName: String {
        switch self {
        case .initramfsTools: return "lsinitramfs"
        case .dracut: return "lsinitrd"
        }
    }

    /// The distribution package that provides both programs (Debian's name).
    package var package: String {
        switch self {
        case .initramfsTools: return "initramfs-tools"
        case .dracut: return "dracut"
        }
    }

    /// Arguments that build the image for `kernel` into `output` (a path the builder sees).
    /// `mkinitramfs -o` rather than `update-initramfs -u`: update-initramfs renames its `.new`
    /// file over the live image before anyone could look inside; kmodguard builds into its own
    /// temporary file, verifies it, and only then replaces the image itself. Of what else
    /// update-initramfs does, `Initramfs.rebuild` keeps the fsync and runs
    /// `/etc/initramfs/post-update.d` (flash-kernel and the like); it drops the `.bak` copy
    /// (`backup_initramfs`; the old image stays until the new one is verified anyway) and does
    /// not honour `update_initramfs=no`: the admin configured kmodguard to put this driver in.
    package func buildArguments(output: String, kernel: String) -> [String] {
        switch self {
        case .initramfsTools: return ["-o", output, kernel]
        // --force: dracut refuses to overwrite an existing file without it.
        case .dracut: return ["--force", output, kernel]
        }
    }

    /// kmodguard's hook in this generator, relative to the root: it adds the guarded modules to
    /// the image (initramfs-tools with `MODULES=most` never copies modules from `updates/`).
    package var hookPath: String {
        switch self {
        case .initramfsTools: return "/usr/share/initramfs-tools/hooks/kmodguard"
        case .dracut: return "/usr/lib/dracut/modules.d/90kmodguard/module-setup.sh"
        }
    }

    /// Parses the value of `KMODGUARD_INITRAMFS_GENERATOR` (`dracut` or `initramfs-tools`).
    package init?(name: String) {
        switch name {
        case "initramfs-tools", "initramfs_tools", "mkinitramfs", "update-initramfs": self = .initramfsTools
        case "dracut": self = .dracut
        default: return nil
        }
    }
}
