import Foundation
package import KmodguardCore
package import KmodguardSystem

/// What every post-boot command needs: the root, the configuration, a process runner.
package struct CommandContext {
    package let root: SystemRoot
    package let runner: any ProcessRunning

    package init(root: SystemRoot, runner: any ProcessRunning = LiveProcessRunner()) {
        self.root = root
        self.runner = runner
    }

    /// The configuration; a missing file is the default (nothing guarded), a broken one an error.
    package func loadConfig(path: String? = nil) throws(CommandError) -> GuardConfig {
        let file = path ?? root.config
        switch Files.read(file, limit: 64 * 1024) {
        case .failure(let error):
            if error.errno == .noSuchFileOrDirectory { return GuardConfig() }
            throw .system(error)
        case .success(let bytes):
            do {
                return try GuardConfig.parse(bytes, file: file)
            } catch {
                throw .config(error)
            }
        }
    }

    /// Runs an external command through the runner seam.
    package func run(_ command: ExternalCommand) throws(CommandError) -> CommandResult {
        do {
            return try runner.run(command)
        } catch {
            throw .launch(error)
        }
    }

    /// `uname -r`, or the kernel given with `--kernel`.
    package func kernel(_ override: String?) throws(CommandError) -> KernelRelease {
        let text = override ?? KernelIdentity.release() ?? ""
        guard let release = KernelRelease(text) else { throw .invalidKernelRelease(text) }
        return release
    }

    /// Kernels with a module tree under ROOT/lib/modules, newest first.
    package func installedKernels() -> [KernelRelease] {
        guard case .success(let names) = Files.list(root.path("/lib/modules")) else { return [] }
        return names.compactMap(KernelRelease.init).filter { Files.isDirectory(root.modules($0) + "/kernel") || Files.exists(root.modules($0) + "/modules.dep") }
            .sorted(by: >)
    }
}
