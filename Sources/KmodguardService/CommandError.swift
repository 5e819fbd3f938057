import ArgumentParser
package import KmodguardCore
package import KmodguardSystem

/// A command failure with what to do about it; printed by ArgumentParser as `Error: …`.
package enum CommandError: Error, CustomStringConvertible {
    case grubenv(GrubEnvFileError)
    case grubenvChange(path: String, GrubEnvError)
    case system(SystemError)
    case unknownKernel(String, grubConfig: String, known: [KernelRelease])
    case invalidKernelRelease(String)
    case config(ConfigError)
    case corruptState(path: String, reason: String)
    case launch(CommandLaunchError)
    case busy(FileLockError)

    package var description: String {
        switch self {
        case .grubenv(let error): return error.description
        case .grubenvChange(let path, let error): return path + ": " + error.description + "; nothing changed"
        case .system(let error): return error.description
        case .unknownKernel(let kernel, let grubConfig, let known):
            let list = known.isEmpty ? "none" : known.map { $0.string }.joined(separator: ", ")
            return "no GRUB menu entry boots kernel " + kernel + " in " + grubConfig + " (kernels found: " + list
                + "); run update-grub if it was installed recently"
        case .invalidKernelRelease(let text): return "'" + text + "' is not a kernel release"
        case .corruptState(let path, let reason):
            return path + " is not readable kmodguard state (" + reason + "); move it aside and run kmodguard complete again"
        case .launch(let error): return error.description
        case .busy(let error):
            guard case .timedOut = error else { return error.description }
            return error.description + ": another kmodguard run (complete or a kernel hook) has not finished; see "
                + "journalctl -u kmodguard-complete.service, or remove the lock file only if no kmodguard process runs"
        case .config(let error): return error.description + "\nFix " + (error.issues.first?.file ?? "the configuration") + " (see kmodguard.conf(5))"
        }
    }
}
