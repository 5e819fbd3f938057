import Foundation
package import KmodguardCore
package import KmodguardSystem

/// The initramfs images of one root: rebuild a kernel's image with the root's generator, check
/// that the guarded driver is inside, and only then let it replace the image that boots now.
package struct Initramfs: Sendable {
    package let root: SystemRoot
    package let generator: InitramfsGenerator
    package let runner: any ProcessRunning
    /// Where the images live: `ROOT/boot`, or a scratch directory (tests).
    package let imageDirectory: String
    /// Where rebuild logs and locks go: `ROOT/var/lib/kmodguard/logs`.
    package let logDirectory: String
    /// Limits for the generator (slow machines with xz, or a TCG guest, take minutes), the
    /// listing, and the wait for a concurrent rebuild of the same image.
    package var generatorTimeoutSeconds = 1800
    package var listerTimeoutSeconds = 300
    package var lockTimeoutSeconds = 1800
    /// Free bytes of a directory's filesystem (tests make a full /boot with it).
    package var freeBytes: @Sendable (String) -> Result<UInt64, SystemError> = FilesystemSpace.freeBytes

    package init(root: SystemRoot, generator: InitramfsGenerator, runner: any ProcessRunning = LiveProcessRunner(),
         imageDirectory: String? = nil, logDirectory: String? = nil) {
        self.root = root
        self.generator = generator
        self.runner = runner
        self.imageDirectory = imageDirectory ?? root.boot
        self.logDirectory = logDirectory ?? root.stateDirectory + "/logs"
    }

    /// The images of `root`, with its generator detected (see `InitramfsGenerator.detect`).
    package static func detect(
        root: SystemRoot, runner: any ProcessRunning = LiveProcessRunner(), generator override: InitramfsGeneratorKind? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        imageDirectory: String? = nil, logDirectory: String? = nil
    ) throws(InitramfsFailure) -> Initramfs {
        let generator = try InitramfsGenerator.detect(root: root, override: override, environment: environment)
        return Initramfs(root: root, generator: generator, runner: runner, imageDirectory: imageDirectory, logDirectory: logDirectory)
    }

    /// The image of `kernel`: `initrd.img-K` (Debian, both generators) or `initramfs-K.img`
    /// (Fedora's dracut), whichever exists; for a first image, initrd.img-K on Debian and with
    /// initramfs-tools, else initramfs-K.img.
    package func imagePath(for kernel: KernelRelease) -> String {
        let debian = imageDirectory + "/initrd.img-" + kernel.string
        let fedora = imageDirectory + "/initramfs-" + kernel.string + ".img"
        if Files.exists(debian) { return debian }
        if Files.exists(fedora) { return fedora }
        if generator.kind == .initramfsTools || Files.exists(root.path("/etc/debian_version")) { return debian }
        return fedora
    }

    package func logPath(for kernel: KernelRelease) -> String { logDirectory + "/initramfs-" + kernel.string + ".log" }

    /// Rebuilds `kernel`'s image into a temporary file next to it, checks that each of
    /// `requiredModules` is inside (`-`/`_` alike, compressed or not) as the very file the
    /// kernel's modules.dep names (the rebuilt one in `updates/`, not an in-tree namesake), then
    /// fsyncs it and renames it over the image. On any failure the old image is untouched and the
    /// temporary file is gone. With initramfs-tools, `/etc/initramfs/post-update.d` hooks run
    /// afterwards as update-initramfs would run them (flash-kernel and the like copy the image on).
    package func rebuild(kernel: KernelRelease, requiredModules: [String]) throws(InitramfsFailure) -> InitramfsResult {
        let modulesDirectory = root.modules(kernel)
        guard Files.exists(modulesDirectory + "/modules.dep") else {
            throw .kernelNotInstalled(kernel: kernel.string, modulesDirectory: modulesDirectory)
        }
        for directory in [imageDirectory, logDirectory] {
            if let error = Files.makeDirectories(directory) { throw .system(error) }
        }
        let image = imagePath(for: kernel)
        let staged = InitramfsStagedImage(image: image)
        guard let output = generator.builder.visiblePath(staged.temporary) else {
            throw .imageOutsideRoot(image: image, root: root.path("/"))
        }
        // A second run must not remove the first one's temporary file as stale, nor rename over
        // an image the first is verifying.
        let lock: FileLock
        switch FileLock.acquire(logDirectory + "/initramfs-" + kernel.string + ".lock", timeoutSeconds: lockTimeoutSeconds) {
        case .success(let taken): lock = taken
        case .failure(.timedOut(let path, _, _)): throw .busy(lock: path)
        case .failure(.system(let error)): throw .system(error)
        }
        defer { lock.release() }
        if let error = staged.removeStale() { throw .system(error) }
        // The new image is written next to the old one: refuse early, before minutes of
        // generator work, when it cannot fit.
        let space = InitramfsSpace(image: image, directory: imageDirectory, freeBytes: freeBytes)
        if let shortage = space.shortage() { throw .noSpace(kernel: kernel.string, shortage, log: nil, lastLines: []) }

        let log = InitramfsLog(path: logPath(for: kernel))
        var command = generator.builder.command(generator.kind.buildArguments(output: output, kernel: kernel.string))
        command.timeoutSeconds = generatorTimeoutSeconds
        command.logFile = log.path
        let header: String = InitramfsLog.notePrefix + "rebuilding " + image + " with " + generator.kind.rawValue
            + " at " + WallClock.timestamp() + "\n"
        let running: String = InitramfsLog.notePrefix + "running " + command.description + "\n"
        if let error = log.start(header + running) { throw .system(error) }
        let built: CommandResult
        do {
            built = try runner.run(command)
        } catch {
            staged.discard()
            log.append(InitramfsLog.notePrefix + error.description + "\n")
            throw .launch(error, log: log.path)
        }
        let wrote = Files.status(staged.temporary).map { $0.size > 0 }
        log.append(InitramfsLog.notePrefix + generator.kind.builderName + (built.timedOut ? " timed out" : " exited with status " + String(built.status))
            + " after " + Self.seconds(built.seconds) + " s\n")
        guard built.succeeded, case .success(true) = wrote else {
            staged.discard()
            var lastLines = log.lastLines(15)
            if let shortage = space.shortage() {
                log.append(InitramfsLog.notePrefix + shortage.description + "\n")
                throw .noSpace(kernel: kernel.string, shortage, log: log.path, lastLines: lastLines)
            }
            if built.succeeded { lastLines.append("(it wrote no image to " + staged.temporary + ")") }
            throw .generatorFailed(command: command.description, status: built.status, timedOut: built.timedOut,
                                   log: log.path, lastLines: lastLines)
        }

        let verifyStart = Date()
        let check: InitramfsModuleCheck
        do {
            check = try contains(image: staged.temporary, modules: requiredModules, kernel: kernel)
        } catch {
            staged.discard()
            log.append(InitramfsLog.notePrefix + "verification failed: " + error.description + "\n")
            throw error
        }
        let verifySeconds = Date().timeIntervalSince(verifyStart)
        for module in requiredModules {
            if let path = check.present[module] { log.append(InitramfsLog.notePrefix + "found " + module + " at " + path + "\n") }
        }
        let imageExisted = Files.exists(image)
        guard check.isComplete else {
            staged.discard()
            let failure = InitramfsFailure.modulesMissing(
                kernel: kernel.string, image: image, imageExisted: imageExisted, check: check,
                generator: generator.kind, hook: root.path(generator.kind.hookPath),
                hookInstalled: Files.exists(root.path(generator.kind.hookPath)), config: root.config, log: log.path)
            log.append(InitramfsLog.notePrefix + failure.description + "\n")
            throw failure
        }

        let size = (try? Files.status(staged.temporary).get().size) ?? 0
        if let error = staged.commit() {
            staged.discard()
            log.append(InitramfsLog.notePrefix + error.description + "; the old image is unchanged\n")
            throw .system(error)
        }
        log.append(InitramfsLog.notePrefix + "installed " + image + " (" + String(size) + " bytes)\n")
        var result = InitramfsResult(
            kernel: kernel.string, generator: generator.kind, image: image, size: size, modules: check.present,
            log: log.path, generatorSeconds: built.seconds, verifySeconds: verifySeconds, replacedExisting: imageExisted)
        if let error = Files.syncDirectory(imageDirectory) {
            // The rename happened; only its durability across a power cut is in doubt.
            result.warnings.append(error.description + ": " + image + " is installed, but run sync before rebooting")
        }
        if let warning = runPostUpdateHooks(kernel: kernel, image: image, log: log) { result.warnings.append(warning) }
        return result
    }

    /// Whether `image` holds `modules` for `kernel` (for `kmodguard status`: "in initramfs").
    package func contains(image: String, modules: [String], kernel: KernelRelease) throws(InitramfsFailure) -> InitramfsModuleCheck {
        guard Files.exists(image) else { throw .imageMissing(image: image) }
        guard let visible = generator.lister.visiblePath(image) else {
            throw .imageOutsideRoot(image: image, root: root.path("/"))
        }
        var command = generator.lister.command([visible])
        command.timeoutSeconds = listerTimeoutSeconds
        let listed: CommandResult
        do {
            listed = try runner.run(command)
        } catch {
            throw .launch(error, log: nil)
        }
        guard listed.succeeded else {
            throw .listingFailed(command: command.description, status: listed.status, image: image,
                                 lastLines: listed.output.split(separator: "\n").suffix(10).map(String.init))
        }
        return InitramfsModuleCheck(listing: InitramfsListing(listed.output), modules: modules,
                                    kernel: kernel.string, modulesDirectory: root.modules(kernel))
    }

    /// Runs initramfs-tools' post-update hooks for an image in the root's /boot (not for a
    /// scratch directory); returns a warning when they fail.
    private func runPostUpdateHooks(kernel: KernelRelease, image: String, log: InitramfsLog) -> String? {
        let hooks = "/etc/initramfs/post-update.d"
        guard generator.kind == .initramfsTools, imageDirectory == root.boot, Files.isDirectory(root.path(hooks)) else { return nil }
        let tool = InitramfsTool("/bin/run-parts", chroot: root.isHost ? nil : root.prefix)
        guard let visible = tool.visiblePath(image) else { return nil }
        var command = tool.command(["--arg=" + kernel.string, "--arg=" + visible, hooks + "/"])
        command.timeoutSeconds = generatorTimeoutSeconds
        command.logFile = log.path
        log.append(InitramfsLog.notePrefix + "running " + command.description + "\n")
        let message: String
        do {
            let result = try runner.run(command)
            if result.succeeded { return nil }
            message = "exited with status " + String(result.status)
        } catch {
            message = error.description
        }
        let warning = "the post-update hooks in " + root.path(hooks) + " failed (" + message + ") after " + image
            + " was installed; see " + log.path
        log.append(InitramfsLog.notePrefix + warning + "\n")
        return warning
    }


    private static func seconds(_ value: Double) -> String { String(format: "%.1f", value) }
}
