package import KmodguardCore
package import KmodguardSystem

/// Why built modules could not be installed. Every module file is either the old one or the
/// complete new one (written to a temporary name, fsync'd, renamed), whatever the case.
package enum InstallFailure: Error, CustomStringConvertible {
    case noModules
    case read(SystemError)
    case write(SystemError)
    /// The modules are in place but `depmod` failed: libkmod will not find them until it runs.
    case depmodFailed(command: String, status: Int32, output: String)
    /// depmod chose another file of the same module name (e.g. `updates/dkms/NAME.ko`), so the
    /// installed one would never load; nil when depmod lists none at all.
    case shadowed(module: String, by: String?)
    case launch(CommandLaunchError)

    package var description: String {
        switch self {
        case .noModules:
            return "nothing to install: the build produced no module"
        case .read(let error):
            return "cannot read the built module: " + error.description
        case .write(let error):
            return "cannot install the module: " + error.description + "; the previous file, if any, is unchanged"
        case .depmodFailed(let command, let status, let output):
            let detail = output.split(separator: "\n").first.map { ": " + $0 } ?? ""
            return command + " failed (exit " + String(status) + ")" + detail + "; the modules are installed, run it again by hand"
        case .shadowed(let module, let other):
            guard let other else { return "depmod did not index " + module + "; check the depmod.d search order" }
            return "depmod resolves the module to " + other + ", not to the installed " + module
                + "; remove the other copy (dkms remove?) or give updates/kmodguard priority in /etc/depmod.d"
        case .launch(let error):
            return error.description + " (install kmod: apt-get install kmod)"
        }
    }
}
