package import KmodguardBuilder
package import KmodguardCore
package import KmodguardDatabase
import KmodguardInitramfs
import KmodguardSystem

/// The real per-kernel steps: the driver from the signed database (DATABASE_URL: a prebuilt
/// module for this exact kernel, or a source tarball) or from the local tree (SOURCE), built by
/// DriverBuilder and installed by ModuleInstaller (updates/kmodguard + depmod); then Initramfs
/// (rebuild, verify, replace).
package struct LiveCompletionSteps: CompletionSteps {
    package let context: CommandContext
    package let snapshot: SystemSnapshot
    /// One client per run: the index is downloaded and verified once, and the retry fingerprint
    /// and every kernel's fetch use that same index.
    package let database: DriverDatabase?
    /// Without a database: SOURCE located and its dkms.conf evaluated (a bash run) on first use
    /// — a run with every driver in place never needs it — then kept, so the identity, the retry
    /// fingerprint and every kernel's build start from the same tree.
    private var resolvedSource: Result<DriverSource, DriverSourceError>?

    package init(context: CommandContext, snapshot: SystemSnapshot, policy: DownloadPolicy = DownloadPolicy()) {
        self.context = context
        self.snapshot = snapshot
        database = snapshot.config.databaseURL.map { DriverDatabase(url: $0, root: context.root, runner: context.runner, policy: policy) }
    }

    /// The configured SOURCE tree, resolved once per run.
    package mutating func source() -> Result<DriverSource, DriverSourceError> {
        if let resolvedSource { return resolvedSource }
        let resolved = Result { () throws(DriverSourceError) in try DriverSource.configured(snapshot.config, root: context.root) }
        resolvedSource = resolved
        return resolved
    }

    package mutating func driverIdentity() -> String {
        if let database { return database.fingerprint() }
        guard case .success(let source) = source() else { return snapshot.config.source ?? "none" }
        return source.name + "-" + source.version
    }

    package mutating func driverFingerprint() -> String {
        if let database { return database.fingerprint() }
        guard case .success(let source) = source() else { return driverIdentity() }
        // An unreadable tree cannot be built either: its error is the build's to report.
        let tree = (try? source.contentDigest()) ?? "unreadable"
        return source.name + "-" + source.version + "@" + tree
    }

    package mutating func obtainDriver(for kernel: KernelRelease) -> DriverOutcome {
        if let database { return obtain(from: database, kernel: kernel) }
        switch source() {
        case .success(let source): return buildAndInstall(source, kernel: kernel)
        case .failure(let error): return .failed(message: error.description, firstError: nil, log: nil)
        }
    }

    package func obtain(from database: DriverDatabase, kernel: KernelRelease) -> DriverOutcome {
        let delivered: DatabaseDriver
        do {
            delivered = try database.fetch(for: kernel, modules: snapshot.config.modules)
        } catch {
            return error.isTransient ? .unavailable(message: error.description) : .refused(message: error.description)
        }
        switch delivered {
        case .source(let directory, _):
            do {
                return buildAndInstall(try DriverSource.locate(directory), kernel: kernel)
            } catch {
                return .failed(message: error.description, firstError: nil, log: nil)
            }
        case .prebuilt(let paths, let driver):
            // Verified by sha256 and vermagic in DriverDatabase.fetch.
            let modules = paths.keys.sorted().map { BuiltModule(name: $0, path: paths[$0] ?? "", vermagic: "") }
            let output = BuildOutput(sourceName: driver, sourceVersion: "", kernel: kernel, modules: modules,
                                     buildDirectory: "", log: "", seconds: 0)
            return install(output, kernel: kernel, driver: driver)
        }
    }

    package func buildAndInstall(_ source: DriverSource, kernel: KernelRelease) -> DriverOutcome {
        let output: BuildOutput
        do {
            output = try DriverBuilder(root: context.root, runner: context.runner).build(source, for: kernel)
        } catch {
            switch error {
            case .excluded(let exclusion): return .excluded(exclusion.description)
            case .headersMissing(_, let package, _): return .headersMissing(package: package)
            case .compileFailed(let firstError, let log): return .failed(message: error.description, firstError: firstError, log: log)
            default: return .failed(message: error.description, firstError: nil, log: error.log)
            }
        }
        return install(output, kernel: kernel, driver: source.name + "-" + source.version)
    }

    package func install(_ output: BuildOutput, kernel: KernelRelease, driver: String) -> DriverOutcome {
        do {
            _ = try ModuleInstaller.install(output, kernel: kernel, root: context.root, runner: context.runner)
        } catch {
            return .failed(message: "install: " + error.description, firstError: nil, log: output.log.isEmpty ? nil : output.log)
        }
        return .installed(driver: driver, modules: output.modules.map(\.name))
    }

    package mutating func rebuildInitramfs(for kernel: KernelRelease, modules: [String]) -> InitramfsOutcome {
        do {
            let initramfs = try Initramfs.detect(root: context.root, runner: context.runner)
            let result = try initramfs.rebuild(kernel: kernel, requiredModules: modules)
            // grub-mkconfig writes an initrd line only for an image that existed when it ran.
            if !result.replacedExisting, context.root.isHost, let updateGrub = findExecutable("update-grub") {
                _ = try? context.run(ExternalCommand(updateGrub))
            }
            return .verified(image: result.image)
        } catch {
            if case .generatorMissing = error { return .skipped(error.description) }
            return .failed(message: error.description, log: error.log)
        }
    }
}
