import Foundation
import KmodguardCompletion
package import KmodguardCore
package import KmodguardSystem

/// Compiles a driver source for one kernel the way DKMS does (same variables, same layout, same
/// `BUILD_EXCLUSIVE_*` and `PATCH[]` rules), but as an unprivileged user in a scratch copy, with
/// a timeout, a kept log and a typed result. Installing is `ModuleInstaller`'s job.
package struct DriverBuilder {
    package let root: SystemRoot
    package let runner: any ProcessRunning
    /// Scratch trees live here (default `ROOT/var/lib/kmodguard/build`).
    package var workDirectory: String
    /// Build logs are kept here (default `ROOT/var/lib/kmodguard/logs`).
    package var logDirectory: String
    package var timeoutSeconds: Int = 1800
    /// Who runs the source's code; nil runs it as this process's user.
    package var user: BuildUser? = BuildUser.defaultForThisProcess
    package var jobs: Int = ProcessInfo.processInfo.activeProcessorCount
    /// `systemd-inhibit` to hold during make (only as root: it needs no polkit prompt then).
    package var inhibitor: String? = ProcessIdentity.isRoot ? BuildProcess.detectInhibitor() : nil
    /// Whether build steps see DKMS's fixed paths as their build directory (`DkmsPathView`):
    /// only as root (it mounts), where namespaces are allowed, and when the steps run as the build
    /// user (who cannot undo it).
    package var showsDkmsPaths: Bool = NamespaceSupport.available

    package init(root: SystemRoot, runner: any ProcessRunning = LiveProcessRunner(), workDirectory: String? = nil,
         logDirectory: String? = nil) {
        self.root = root
        self.runner = runner
        self.workDirectory = workDirectory ?? root.stateDirectory + "/build"
        self.logDirectory = logDirectory ?? root.stateDirectory + "/logs"
    }

    /// Convenience for one build with the defaults.
    package static func build(source: DriverSource, kernel: KernelRelease, root: SystemRoot, workDirectory: String? = nil,
                      runner: any ProcessRunning = LiveProcessRunner(),
                      timeoutSeconds: Int = 1800) throws(BuildFailure) -> BuildOutput {
        var builder = DriverBuilder(root: root, runner: runner, workDirectory: workDirectory)
        builder.timeoutSeconds = timeoutSeconds
        return try builder.build(source, for: kernel)
    }

    /// Builds `source` for `kernel`. Throws `.excluded` (a skip) when `BUILD_EXCLUSIVE_*` rules
    /// the kernel out, before even looking for headers, as DKMS does.
    package func build(_ declared: DriverSource, for kernel: KernelRelease) throws(BuildFailure) -> BuildOutput {
        let start = Date()
        let kernelConfig = KernelHeaders.config(for: kernel, root: root)
        let architecture = Self.machine()
        let workspace = BuildWorkspace(source: declared, kernel: kernel, workDirectory: workDirectory, logDirectory: logDirectory)
        // DKMS reads dkms.conf again for each kernel: its values may depend on it.
        let link = KernelHeaders.link(for: kernel, root: root)
        let resolved = (try? Links.resolved(link)) ?? link
        var evaluation = DkmsConfigEvaluation(runner: runner, user: user)
        evaluation.timeoutSeconds = min(timeoutSeconds, 60)
        let source: DriverSource
        do {
            source = try declared.evaluated(evaluation, context: DkmsConfigEvaluation.Context(
                kernel: kernel.string, architecture: architecture,
                kernelSourceDirectory: Files.isDirectory(resolved) ? resolved : link, dkmsTree: workspace.dkmsTree,
                sourceTree: parentDirectory(declared.directory), module: declared.name, moduleVersion: declared.version))
        } catch {
            throw .source(error)
        }
        if let config = source.dkmsConfig,
           let exclusion = config.exclusion(kernel: kernel, architecture: architecture, kernelConfig: kernelConfig.bytes,
                                            configPath: kernelConfig.path, matches: ExtendedRegex.matches) {
            // No kernel config at all usually means no headers either: say that, it is the fix.
            if case .configUnknown = exclusion { _ = try KernelHeaders.locate(kernel, root: root) }
            throw .excluded(exclusion)
        }
        let headers = try KernelHeaders.locate(kernel, root: root)
        let lock = try workspace.lock()
        defer { lock.release() }

        let compiler = kernelConfig.bytes.flatMap(KernelHeaders.compiler(inConfig:)).flatMap { findExecutable($0) != nil ? $0 : nil }
        let process = BuildProcess(user: user, inhibitor: inhibitor,
                                   environment: BuildProcess.environment(home: workspace.dkmsTree, jobs: jobs, compiler: compiler),
                                   view: showsDkmsPaths && user != nil ? DkmsPathView(name: source.name, version: source.version, workspace: workspace) : nil)
        let script = makeScript(source: source, kernel: kernel, headers: headers, workspace: workspace, architecture: architecture)
        try workspace.prepare(copying: source.directory, user: user, logHeader: """
            kmodguard build of \(source.name) \(source.version) for \(kernel.string) (\(architecture)), \(WallClock.timestamp())
            source: \(source.directory)
            build directory: \(workspace.buildDirectory)
            kernel headers: \(headers.directory)
            user: \(user.map { String($0.uid) + ":" + String($0.gid) } ?? "invoking user"), MAKEFLAGS=-j\(jobs), timeout \(timeoutSeconds) s
            ---- make script
            \(script)
            ----

            """)

        try applyPatches(source, kernel: kernel, workspace: workspace, process: process)
        try runBuildScript("PRE_BUILD", source.dkmsConfig?.preBuild, workspace: workspace, process: process)
        let why = "building " + source.name + " " + source.version + " for kernel " + kernel.string
        let result = try run(process.command(["/bin/bash", "-c", script], in: workspace.buildDirectory, log: workspace.log,
                                             timeoutSeconds: timeoutSeconds, why: why))
        if result.timedOut { throw .timedOut(seconds: timeoutSeconds, log: workspace.log) }
        if !result.succeeded {
            let text = Self.readLog(workspace.log)
            if CompilerLog.firstError(text) == nil, let path = DeniedWrite.firstOutside(text, allowed: workspace.dkmsTree) {
                throw .writesOutsideBuildDirectory(path: path, log: workspace.log)
            }
            let first = CompilerLog.firstError(text).map { Self.shortened($0, buildDirectory: workspace.buildDirectory) }
            throw .compileFailed(firstError: first, log: workspace.log)
        }

        var modules: [BuiltModule] = []
        let paths: [(String, String)]
        do {
            paths = try modulePaths(source, workspace: workspace)
        } catch {
            if case .moduleMissing = error,
               let path = DeniedWrite.firstOutside(Self.readLog(workspace.log), allowed: workspace.dkmsTree) {
                throw .writesOutsideBuildDirectory(path: path, log: workspace.log)
            }
            throw error
        }
        for (index, (name, path)) in paths.enumerated() {
            let strips = source.declaredModules.isEmpty || source.declaredModules[index].strip
            if strips, let strip = findExecutable("strip") {
                // As DKMS: drop debug info (a -g kernel build makes modules ~10x larger, and they
                // end up in the initramfs). A failure only leaves the module bigger.
                _ = try? runner.run(process.command([strip, "-g", path], in: workspace.buildDirectory, log: workspace.log))
            }
            let vermagic = try self.vermagic(of: path)
            guard vermagic.split(separator: " ").first.map(String.init) == kernel.string else {
                throw .vermagicMismatch(module: name, vermagic: vermagic, kernel: kernel)
            }
            modules.append(BuiltModule(name: name, path: path, vermagic: vermagic))
        }
        try runBuildScript("POST_BUILD", source.dkmsConfig?.postBuild, workspace: workspace, process: process)
        let seconds = Date().timeIntervalSince(start)
        Self.append(workspace.log, "---- built " + modules.map { String($0.path.dropFirst(workspace.buildDirectory.count + 1)) }
            .joined(separator: " ") + " in "
            + String(format: "%.2f", seconds) + " s\n")
        return BuildOutput(sourceName: source.name, sourceVersion: source.version, kernel: kernel, modules: modules,
                           buildDirectory: workspace.buildDirectory, log: workspace.log, seconds: seconds)
    }

    /// DKMS's variables as shell variables (not exported: DKMS expands them in `MAKE[0]` but
    /// make never sees them), then `MAKE[0]` or DKMS's default. `KERNELRELEASE` is likewise only
    /// a shell variable: DKMS 3.0 passes it to make, which sends the usual
    /// `ifneq ($(KERNELRELEASE),)` Makefile into its Kbuild half ("No targets") at top level.
    package func makeScript(source: DriverSource, kernel: KernelRelease, headers: KernelHeaders, workspace: BuildWorkspace,
                    architecture: String) -> String {
        let variables: [(String, String)] = [
            ("kernelver", kernel.string),
            ("kernel_source_dir", headers.directory),
            ("dkms_tree", workspace.dkmsTree),
            ("source_tree", parentDirectory(source.directory)),
            ("arch", architecture),
            ("PACKAGE_NAME", source.name),
            ("PACKAGE_VERSION", source.version),
            ("module", source.name),
            ("module_version", source.version),
            ("build_dir", workspace.buildDirectory),
            ("KERNELRELEASE", kernel.string),
        ]
        var lines = variables.map { $0.0 + "=" + BuildProcess.shellQuoted($0.1) }
        switch source.kind {
        case .dkms(let config):
            lines.append(config.make ?? #"make -C "$kernel_source_dir" M="$dkms_tree/$module/$module_version/build""#)
        case .kbuild:
            lines.append(#"make -C "$kernel_source_dir" M="$build_dir" modules"#)
        }
        return lines.joined(separator: "\n")
    }

    /// `PRE_BUILD` / `POST_BUILD` as DKMS's `run_build_script`: the command is a path relative
    /// to the build directory plus arguments (word-split, as DKMS's unquoted `exec $run`), run
    /// from there if its first word is executable (else a warning in the log), as the build
    /// user; DKMS ignores its exit status, and so does kmodguard (the log keeps it).
    package func runBuildScript(_ key: String, _ script: String?, workspace: BuildWorkspace,
                        process: BuildProcess) throws(BuildFailure) {
        guard let script, !script.isEmpty else { return }
        let command = workspace.buildDirectory + "/" + script
        let program = String(command.prefix { $0 != " " })
        guard FileAccess.isExecutable(program) else {
            Self.append(workspace.log, "---- warning: the " + key + " script " + program + " is not executable; not run (as DKMS)\n")
            return
        }
        Self.append(workspace.log, "---- " + key + ": " + script + "\n")
        let result = try run(process.command(["/bin/bash", "-c", "exec $0", command], in: workspace.buildDirectory,
                                             log: workspace.log, timeoutSeconds: timeoutSeconds))
        if !result.succeeded {
            Self.append(workspace.log, "---- " + key + " exited with status " + String(result.status) + " (ignored, as DKMS)\n")
        }
    }

    /// `PATCH[i]` whose `PATCH_MATCH[i]` (if any) matches the kernel, in order, with `patch -p1`
    /// from the build directory, as DKMS applies them.
    package func applyPatches(_ source: DriverSource, kernel: KernelRelease, workspace: BuildWorkspace,
                      process: BuildProcess) throws(BuildFailure) {
        for patch in source.dkmsConfig?.patches ?? [] {
            if let match = patch.match, !match.isEmpty, !ExtendedRegex.matches(match, kernel.string) { continue }
            let relative = "patches/" + patch.file
            let path = workspace.buildDirectory + "/" + relative
            guard Files.exists(path) else { throw .patchMissing(file: patch.file, path: source.directory + "/" + relative) }
            Self.append(workspace.log, "---- patch -p1 < " + relative + "\n")
            let result = try run(process.command(["patch", "-p1", "--force", "--input=" + relative], in: workspace.buildDirectory,
                                                 log: workspace.log))
            guard result.succeeded else { throw .patchFailed(file: patch.file, log: workspace.log) }
        }
    }

    /// Where each built module is: `BUILT_MODULE_LOCATION[i]/BUILT_MODULE_NAME[i].ko`, or for a
    /// source that names none, what Kbuild listed in `modules.order`.
    package func modulePaths(_ source: DriverSource, workspace: BuildWorkspace) throws(BuildFailure) -> [(String, String)] {
        let declared = source.declaredModules
        if !declared.isEmpty {
            return try declared.map { (module: DkmsModule) throws(BuildFailure) -> (String, String) in
                let location = module.builtLocation.split(separator: "/").joined(separator: "/")
                let path = workspace.buildDirectory + "/" + (location.isEmpty ? "" : location + "/") + module.name + ".ko"
                guard Files.exists(path) else { throw .moduleMissing(name: module.name, expected: path, log: workspace.log) }
                return (module.name, path)
            }
        }
        let order = workspace.buildDirectory + "/modules.order"
        guard case .success(let bytes) = Files.read(order, limit: 1024 * 1024) else {
            throw .noModulesBuilt(log: workspace.log)
        }
        let paths = Self.modulesOrder(String(decoding: bytes, as: UTF8.self), buildDirectory: workspace.buildDirectory)
        guard !paths.isEmpty else { throw .noModulesBuilt(log: workspace.log) }
        return try paths.map { (path: String) throws(BuildFailure) -> (String, String) in
            let name = String(DriverSource.lastComponent(path).dropLast(3))
            guard Files.exists(path) else { throw .moduleMissing(name: name, expected: path, log: workspace.log) }
            return (name, path)
        }
    }

    /// `modules.order` lines → `.ko` paths. Linux 6.x writes absolute `.ko` paths; older
    /// kernels wrote `kernel/<relative>.ko` (or `.o`).
    package static func modulesOrder(_ text: String, buildDirectory: String) -> [String] {
        text.split(separator: "\n").compactMap { line -> String? in
            var entry = String(line).trimmingCharacters(in: .whitespaces)
            guard !entry.isEmpty else { return nil }
            if entry.hasPrefix("kernel/") { entry.removeFirst("kernel/".count) }
            if entry.hasSuffix(".o") { entry = String(entry.dropLast(2)) + ".ko" }
            guard entry.hasSuffix(".ko") else { return nil }
            return entry.hasPrefix("/") ? entry : buildDirectory + "/" + entry
        }
    }

    /// The module's `vermagic` via `modinfo -F vermagic`.
    package func vermagic(of path: String) throws(BuildFailure) -> String {
        let modinfo = findExecutable("modinfo") ?? "/sbin/modinfo"
        let result = try run(ExternalCommand(modinfo, ["-F", "vermagic", path]))
        let text = result.output.split(separator: "\n").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        guard result.succeeded, !text.isEmpty else {
            throw .moduleUnreadable(path: path, reason: result.output.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return text
    }

    private func run(_ command: ExternalCommand) throws(BuildFailure) -> CommandResult {
        do {
            return try runner.run(command)
        } catch {
            throw .launch(error)
        }
    }

    /// `uname -m`, DKMS's `$arch`.
    package static func machine() -> String {
        KernelIdentity.machine() ?? ""
    }

    /// The first error with the scratch path cut, so it reads `foo.c:12:3: error: …`.
    package static func shortened(_ line: String, buildDirectory: String) -> String {
        line.replacingOccurrences(of: buildDirectory + "/", with: "")
    }

    package static func readLog(_ path: String) -> String {
        switch Files.read(path, limit: 256 * 1024 * 1024) {
        case .success(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .failure: return ""
        }
    }

    /// Adds `text` to the end of an existing log; a log that cannot be written loses the line.
    package static func append(_ path: String, _ text: String) {
        try? OpenFile.append(Array(text.utf8), to: path)
    }
}
