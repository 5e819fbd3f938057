package import KmodguardCore
package import KmodguardSystem

/// Installs built modules into `ROOT/lib/modules/K/updates/kmodguard/` and runs depmod.
///
/// Own subdirectory: never overwrites a file DKMS or a package owns (`updates/dkms/`, `kernel/`);
/// `updates/` is searched before `kernel/` by depmod's default configuration, so the built
/// module wins over an in-tree one of the same name. Between two copies inside `updates/`
/// (say `updates/dkms/NAME.ko` from DKMS) depmod's choice follows directory order, so after
/// depmod the install checks that `modules.dep` names its file and reports `.shadowed` if not.
///
/// Crash safety: every module is first written completely under a temporary name and fsync'd
/// (`Files.replaceAtomically`), then all are renamed into place and the directory fsync'd, then
/// depmod runs. An interruption leaves each module old or new (never partial; a leftover
/// `*.kmodguard-staged` file is ignored by depmod, which only reads `*.ko*`), and re-running the
/// install finishes the job: it is idempotent.
package enum ModuleInstaller {
    /// `ROOT/lib/modules/K/updates/kmodguard`.
    package static func directory(for kernel: KernelRelease, root: SystemRoot) -> String {
        root.modules(kernel) + "/updates/kmodguard"
    }

    /// `kmodguard build --out DIR`: each module written atomically as DIR/NAME.ko, nothing
    /// installed; returns the paths written.
    package static func copy(_ output: BuildOutput, to directory: String) throws(SystemError) -> [String] {
        if let error = Files.makeDirectories(directory) { throw error }
        var written: [String] = []
        for module in output.modules {
            let target = directory + "/" + module.name + ".ko"
            let bytes = try Files.read(module.path, limit: 512 * 1024 * 1024).get()
            if let error = Files.replaceAtomically(target, with: bytes) { throw error }
            written.append(target)
        }
        return written
    }

    /// Installs `output`'s modules for `kernel` and returns their paths (under root).
    package static func install(_ output: BuildOutput, kernel: KernelRelease, root: SystemRoot,
                        runner: any ProcessRunning = LiveProcessRunner()) throws(InstallFailure) -> [String] {
        guard !output.modules.isEmpty else { throw .noModules }
        let directory = directory(for: kernel, root: root)
        if let error = Files.makeDirectories(directory) { throw .write(error) }

        var staged: [(from: String, to: String)] = []
        var installed: [String] = []
        for module in output.modules {
            let target = directory + "/" + module.name + ".ko"
            installed.append(target)
            let bytes: [UInt8]
            switch Files.read(module.path, limit: 512 * 1024 * 1024) {
            case .success(let read): bytes = read
            case .failure(let error): throw .read(error)
            }
            if case .success(let current) = Files.read(target, limit: 512 * 1024 * 1024), current == bytes { continue }
            let temporary = target + ".kmodguard-staged"
            if let error = Files.replaceAtomically(temporary, with: bytes, mode: 0o644) { throw .write(error) }
            staged.append((temporary, target))
        }
        for (from, to) in staged {
            do {
                try FileNames.rename(from, to: to)
            } catch {
                throw .write(error)
            }
        }
        if !staged.isEmpty, let error = Files.syncDirectory(directory) { throw .write(error) }

        let prefix = root.modules(kernel) + "/"
        let relative = installed.map { String($0.dropFirst(prefix.count)) }
        if !staged.isEmpty || !relative.allSatisfy(dependencyEntries(kernel, root: root).contains) {
            try depmod(kernel, root: root, runner: runner)
            // depmod lists one file per module name: if ours is not it, another copy wins.
            let entries = dependencyEntries(kernel, root: root)
            for path in relative where !entries.contains(path) {
                let name = "/" + String(path.split(separator: "/").last ?? "")
                let winner = entries.first { ("/" + $0).hasSuffix(name) }
                throw .shadowed(module: prefix + path, by: winner.map { prefix + $0 })
            }
        }
        return installed
    }

    /// `depmod -b ROOT K`, or `depmod K` on the real root.
    package static func depmod(_ kernel: KernelRelease, root: SystemRoot, runner: any ProcessRunning) throws(InstallFailure) {
        let executable = findExecutable("depmod") ?? "/sbin/depmod"
        let arguments = root.isHost ? [kernel.string] : ["-b", root.prefix, kernel.string]
        let command = ExternalCommand(executable, arguments)
        let result: CommandResult
        do {
            result = try runner.run(command)
        } catch {
            throw .launch(error)
        }
        guard result.succeeded else {
            throw .depmodFailed(command: command.description, status: result.status, output: result.output)
        }
    }

    /// The module paths (relative to `lib/modules/K`) that `modules.dep` lists; empty if none.
    package static func dependencyEntries(_ kernel: KernelRelease, root: SystemRoot) -> Set<String> {
        guard case .success(let bytes) = Files.read(root.modules(kernel) + "/modules.dep", limit: 64 * 1024 * 1024) else {
            return []
        }
        return Set(String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { line in
            line.split(separator: ":", maxSplits: 1).first.map(String.init)
        })
    }
}
