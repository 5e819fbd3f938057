import KmodguardCore

/// The real per-kernel steps: the configured source (SOURCE) → DriverBuilder → ModuleInstaller
/// (updates/kmodguard + depmod), then Initramfs (rebuild, verify, replace).
struct LiveCompletionSteps: CompletionSteps {
    let context: CommandContext
    let snapshot: SystemSnapshot

    func driverIdentity() -> String {
        if let source = try? DriverSource.configured(snapshot.config, root: context.root) {
            return source.name + "-" + source.version
        }
        return snapshot.config.source ?? snapshot.config.databaseURL ?? "none"
    }

    mutating func obtainDriver(for kernel: KernelRelease) -> DriverOutcome {
        let source: DriverSource
        do {
            source = try DriverSource.configured(snapshot.config, root: context.root)
        } catch {
            return .failed(message: error.description, firstError: nil, log: nil)
        }
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
        do {
            _ = try ModuleInstaller.install(output, kernel: kernel, root: context.root, runner: context.runner)
        } catch {
            return .failed(message: "install: " + error.description, firstError: nil, log: output.log)
        }
        return .installed(driver: source.name + "-" + source.version, modules: output.modules.map(\.name))
    }

    mutating func rebuildInitramfs(for kernel: KernelRelease, modules: [String]) -> InitramfsOutcome {
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
