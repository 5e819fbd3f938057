package import KmodguardCore
package import KmodguardSystem

/// Why an image was not rebuilt, or could not be inspected. In every case of `rebuild` the image
/// that was there before is still there, byte for byte.
package enum InitramfsFailure: Error, CustomStringConvertible {
    /// `KMODGUARD_INITRAMFS_GENERATOR` names no generator.
    case unknownGenerator(name: String, variable: String)
    /// No generator installed in the root (`requested` nil), or not the one asked for.
    case generatorMissing(requested: InitramfsGeneratorKind?, root: String)
    /// The generator is there but a program kmodguard needs is not.
    case toolMissing(tool: String, package: String, root: String)
    /// The kernel has no depmod'ed module tree, so no image can hold its modules.
    case kernelNotInstalled(kernel: String, modulesDirectory: String)
    case imageMissing(image: String)
    /// A chrooted generator cannot write (or lister read) a file outside its root.
    case imageOutsideRoot(image: String, root: String)
    /// Another kmodguard rebuilds the same kernel's image right now.
    case busy(lock: String)
    case launch(CommandLaunchError, log: String?)
    case generatorFailed(command: String, status: Int32, timedOut: Bool, log: String, lastLines: [String])
    case listingFailed(command: String, status: Int32, image: String, lastLines: [String])
    /// The new image lacks required modules (or has stale ones); it was thrown away.
    case modulesMissing(
        kernel: String, image: String, imageExisted: Bool, check: InitramfsModuleCheck,
        generator: InitramfsGeneratorKind, hook: String, hookInstalled: Bool, config: String, log: String)
    /// The image directory's filesystem cannot hold the new image next to the old one.
    case noSpace(kernel: String, InitramfsSpace.Shortage, log: String?, lastLines: [String])
    case system(SystemError)

    /// The log with the generator's output, when the generator ran.
    package var log: String? {
        switch self {
        case .launch(_, let log): return log
        case .generatorFailed(_, _, _, let log, _): return log
        case .modulesMissing(_, _, _, _, _, _, _, _, let log): return log
        case .noSpace(_, _, let log, _): return log
        default: return nil
        }
    }

    package var description: String {
        switch self {
        case .unknownGenerator(let name, let variable):
            return variable + "=" + name + " names no initramfs generator: use dracut or initramfs-tools (or unset it to detect)"
        case .generatorMissing(let requested, let root):
            guard let requested else {
                return "no initramfs generator in " + root + ": neither mkinitramfs nor dracut is installed; install initramfs-tools (Debian) or dracut"
            }
            return requested.rawValue + " was asked for but " + root + " has no " + requested.builderName
                + "; install the " + requested.package + " package or unset " + InitramfsGenerator.kindVariable
        case .toolMissing(let tool, let package, let root):
            return "cannot find " + tool + " in " + root + ": install " + package
        case .kernelNotInstalled(let kernel, let directory):
            return "kernel " + kernel + " has no module tree " + directory + "/modules.dep: install its linux-image package, or run depmod " + kernel
        case .imageMissing(let image):
            return "no initramfs " + image + ": rebuild it (kmodguard complete, or update-initramfs -c -k KVER / dracut)"
        case .imageOutsideRoot(let image, let root):
            return image + " is outside " + root + ": the generator runs chrooted there and cannot reach it; use an image directory inside the root"
        case .busy(let lock):
            return "another kmodguard is rebuilding this initramfs (lock " + lock + " held); try again when it has finished"
        case .launch(let error, let log):
            return error.description + (log.map { " (log " + $0 + ")" } ?? "")
        case .generatorFailed(let command, let status, let timedOut, let log, let lastLines):
            let how = timedOut ? "timed out" : "failed with exit status " + String(status)
            return command + " " + how + "; the old initramfs is unchanged. Full output: " + log
                + (lastLines.isEmpty ? "" : "\nLast lines:\n" + lastLines.map { "  " + $0 }.joined(separator: "\n"))
        case .listingFailed(let command, let status, let image, let lastLines):
            return command + " could not list " + image + " (exit status " + String(status) + ")"
                + (lastLines.isEmpty ? "" : ":\n" + lastLines.map { "  " + $0 }.joined(separator: "\n"))
        case .modulesMissing(let kernel, let image, let imageExisted, let check, let generator, let hook, let hookInstalled, let config, let log):
            var lines: [String] = []
            if !check.missing.isEmpty {
                lines.append("the rebuilt initramfs for " + kernel + " lacks " + check.missing.joined(separator: ", "))
            }
            for stale in check.outdated {
                lines.append("the rebuilt initramfs for " + kernel + " has " + stale.module + " as " + stale.imagePath
                    + ", not " + stale.treePath + " (the file modules.dep names)")
            }
            lines.append(imageExisted ? "kept the old image " + image + " unchanged" : "installed no image at " + image)
            if hookInstalled {
                lines.append("kmodguard's " + generator.rawValue + " hook " + hook + " is installed but did not add it: look for 'kmodguard' warnings in "
                    + log + " and check MODULES in " + config)
            } else {
                let why = generator == .initramfsTools
                    ? " (initramfs-tools never copies modules from updates/ by itself)" : ""
                lines.append("kmodguard's " + generator.rawValue + " hook " + hook + " is not installed" + why
                    + ": install it (scripts/install) and rebuild. Generator output: " + log)
            }
            return lines.joined(separator: "; ")
        case .noSpace(let kernel, let shortage, let log, let lastLines):
            return "no room for " + kernel + "'s new initramfs: " + shortage.description
                + "; the old image is unchanged. Free space there (apt-get autoremove --purge removes old kernels); "
                + "kmodguard retries on its next run" + (log.map { ". Generator output: " + $0 } ?? "")
                + (lastLines.isEmpty ? "" : "\nLast lines:\n" + lastLines.map { "  " + $0 }.joined(separator: "\n"))
        case .system(let error):
            return error.description
        }
    }
}
