package import KmodguardCompletion
package import KmodguardCore
package import KmodguardSystem

/// Why `DriverBuilder` produced no modules. One case is not a failure: `.excluded` is DKMS's
/// exit 77, the source declaring (`BUILD_EXCLUSIVE_*`) that it does not build for this kernel;
/// callers report it as a skip (`isSkip`, exit 77), never pin a kernel or retry because of it.
package enum BuildFailure: Error, CustomStringConvertible {
    /// A skip, not a failure: the source excludes this kernel, architecture or kernel config.
    case excluded(BuildExclusion)
    /// No `ROOT/lib/modules/K/build` leading to a kernel tree with a Makefile.
    case headersMissing(KernelRelease, package: String, path: String)
    /// The scratch directory could not be prepared (create, copy, chown, log file).
    case workspace(SystemError)
    /// The build user cannot reach the scratch directory: `blockedBy` is not searchable by others.
    case workspaceUnreachable(path: String, blockedBy: String, uid: UInt32)
    /// Another kmodguard is building the same source for the same kernel.
    case busy(lockFile: String)
    case patchMissing(file: String, path: String)
    case patchFailed(file: String, log: String)
    /// make failed; `firstError` is `CompilerLog.firstError` of the log (nil: see the log).
    case compileFailed(firstError: String?, log: String)
    case timedOut(seconds: Int, log: String)
    /// make succeeded but `BUILT_MODULE_LOCATION/BUILT_MODULE_NAME.ko` is not there.
    case moduleMissing(name: String, expected: String, log: String)
    /// A Kbuild tree whose build listed no modules in modules.order.
    case noModulesBuilt(log: String)
    /// The built module's vermagic names another kernel (the Makefile ignored `$kernelver`).
    case vermagicMismatch(module: String, vermagic: String, kernel: KernelRelease)
    /// `modinfo` cannot read a built module (not an ELF module, truncated).
    case moduleUnreadable(path: String, reason: String)
    case launch(CommandLaunchError)
    /// The source's MAKE wrote outside the scratch tree (into /usr/src, /var/lib/dkms…), which
    /// the unprivileged build cannot; DKMS, running as root, lets it.
    case writesOutsideBuildDirectory(path: String, log: String)
    /// The dkms.conf, evaluated for this kernel, is unusable (DKMS: "Bad conf file").
    case source(DriverSourceError)

    /// True for `.excluded`: nothing is wrong, the source is not meant for this kernel.
    package var isSkip: Bool {
        if case .excluded = self { return true }
        return false
    }

    /// The exit status `kmodguard build` uses: 77 for a skip (as DKMS), 1 for a failure.
    package var exitCode: Int32 { isSkip ? 77 : 1 }

    /// The build log, when the failure happened after it was started.
    package var log: String? {
        switch self {
        case .patchFailed(_, let log), .compileFailed(_, let log), .timedOut(_, let log),
             .moduleMissing(_, _, let log), .noModulesBuilt(let log), .writesOutsideBuildDirectory(_, let log):
            return log
        default:
            return nil
        }
    }

    package var description: String {
        switch self {
        case .excluded(let exclusion):
            return "skipped: " + exclusion.description + " (the source's dkms.conf excludes it; DKMS exits 77 here too)"
        case .headersMissing(let kernel, let package, let path):
            return "no kernel headers for " + kernel.string + " (" + path + " is missing or has no Makefile); install them: apt-get install " + package
        case .workspace(let error):
            return "cannot prepare the build directory: " + error.description
        case .workspaceUnreachable(let path, let blockedBy, let uid):
            return "the build user (uid " + String(uid) + ") cannot reach " + path + ": " + blockedBy
                + " is not searchable by others; chmod o+x " + blockedBy + " or build under another --root"
        case .busy(let lockFile):
            return "another kmodguard build of the same driver and kernel is running (" + lockFile + " is locked); wait for it"
        case .patchMissing(let file, let path):
            return "PATCH " + file + " is listed in dkms.conf but " + path + " does not exist; add it or remove the PATCH[] line"
        case .patchFailed(let file, let log):
            return "patch " + file + " does not apply; see " + log
        case .compileFailed(let firstError, let log):
            if let firstError, firstError.hasSuffix(": not found") {
                return "compile failed: " + firstError + " (a build tool is missing: apt-get install build-essential)\nfull log: " + log
            }
            if let firstError { return "compile failed: " + firstError + "\nfull log: " + log }
            return "compile failed without a compiler error; see " + log
        case .timedOut(let seconds, let log):
            return "build killed after " + String(seconds) + " s (--timeout); see " + log
        case .moduleMissing(let name, let expected, let log):
            return "make succeeded but " + name + ".ko is not at " + expected
                + "; check BUILT_MODULE_NAME/BUILT_MODULE_LOCATION in dkms.conf (log: " + log + ")"
        case .noModulesBuilt(let log):
            return "make succeeded but built no module (modules.order is empty); see " + log
        case .vermagicMismatch(let module, let vermagic, let kernel):
            return module + " was built for '" + vermagic + "', not " + kernel.string
                + "; its Makefile must build against $kernel_source_dir (or KVER=$kernelver)"
        case .moduleUnreadable(let path, let reason):
            return "modinfo cannot read the built module " + path + ": " + (reason.isEmpty ? "no vermagic" : reason)
        case .launch(let error):
            return error.description
        case .writesOutsideBuildDirectory(let path, let log):
            return "the build writes outside its build directory (" + path + ": Permission denied): its dkms.conf MAKE uses "
                + "fixed paths instead of $dkms_tree/$module/$module_version/build; kmodguard builds as an unprivileged user "
                + "and will not run it as root (run as root, it shows /usr/src/NAME-VERSION and /var/lib/dkms/NAME/VERSION/build "
                + "as the build's own copy; other paths stay read-only) — fix MAKE (log: " + log + ")"
        case .source(let error):
            return error.description
        }
    }
}
