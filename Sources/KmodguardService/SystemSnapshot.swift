import Foundation
import KmodguardCompletion
package import KmodguardCore
package import KmodguardSystem

/// Everything `status` and `complete` read about the machine, gathered once.
package struct SystemSnapshot {
    package let root: SystemRoot
    package let config: GuardConfig
    package let configBytes: [UInt8]
    package let running: KernelRelease
    /// kmodguard-early's verdict for this boot (from /run), or nil when it did not run.
    package let guardVerdict: String?
    package let grubenvPath: String
    /// nil when grubenv is missing or unreadable; `grubenvProblem` says why.
    package let grubenv: GrubEnvBlock?
    package let grubenvProblem: String?
    package let menu: GrubMenu
    package let grubConfigPath: String
    /// Kernels with both a module tree and a vmlinuz, newest first.
    package let kernels: [KernelRelease]
    package let availability: [KernelRelease: ModuleAvailability]
    /// Kernels whose driver kmodguard installed after their initramfs was last written: a run
    /// cut off between the install and the verified initramfs (a power cut) leaves exactly this.
    package var staleInitramfs: Set<KernelRelease> = []
    /// This boot's id (`/proc/sys/kernel/random/boot_id`); nil for a --root that is not booted.
    package var bootID: String?
    /// The mount grubenv lives on (from /proc/self/mountinfo, on the host only).
    package var grubenvMount: MountInfo?

    /// GRUB's `save_env` can write grubenv where it lives (false on md RAID, LVM, btrfs, ZFS;
    /// assumed true when the mount is unknown, e.g. under --root).
    package var grubCanSave: Bool {
        grubenvMount.map { GrubenvWritability.grubCanSave(fsType: $0.fsType, source: $0.source) } ?? true
    }

    package var grub: GrubState { GrubState(grubenv ?? GrubEnvBlock()) }

    /// The guard passed on this boot: its verdict says so, or (no verdict, e.g. an initramfs
    /// built before kmodguard was installed) every guarded module is loaded now.
    package var guardPassed: Bool {
        if let guardVerdict { return guardVerdict == "passed" }
        return !config.modules.isEmpty && config.modules.allSatisfy { module in
            Files.exists(root.path("/sys/module/" + String(module.map { $0 == "-" ? "_" : $0 })))
        }
    }

    package var runningEntry: String? { menu.entry(for: running)?.path }

    /// The kernel GRUB boots by default: the first menu entry's (GRUB_DEFAULT=0, Debian's default).
    package var defaultKernel: KernelRelease? { menu.entries.first(where: { $0.submenus.isEmpty && !$0.isRecovery })?.kernel ?? menu.kernels.first }

    package func hasDriver(_ kernel: KernelRelease) -> Bool { availability[kernel] == .resolved }

    package static func take(context: CommandContext, kernelOverride: String? = nil, configPath: String? = nil) throws(CommandError) -> SystemSnapshot {
        let root = context.root
        let configFile = configPath ?? root.config
        let config = try context.loadConfig(path: configFile)
        let configBytes = (try? Files.read(configFile, limit: 64 * 1024).get()) ?? []
        let running = try context.kernel(kernelOverride)

        var verdict: String?
        if case .success(let bytes) = Files.read(root.earlyResult, limit: 4096) {
            var values: [String: String] = [:]
            for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
                let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
                if parts.count == 2 { values[parts[0]] = parts[1] }
            }
            if values["kernel"] == running.string { verdict = values["outcome"] }
        }

        let grubenvPath = root.path(config.grubenv)
        var block: GrubEnvBlock?
        var problem: String?
        switch GrubEnvFile(path: grubenvPath).load(createIfMissing: false) {
        case .success(let loaded): block = loaded
        case .failure(let error): problem = error.description
        }
        let grubConfigPath = parentDirectory(grubenvPath) + "/grub.cfg"
        let menu = (try? Files.read(grubConfigPath, limit: 16 * 1024 * 1024).get()).map { GrubMenu(parsing: $0) } ?? GrubMenu(entries: [])

        let kernels = context.installedKernels().filter { Files.exists(root.kernelImage($0)) || $0 == running }
        var availability: [KernelRelease: ModuleAvailability] = [:]
        for kernel in kernels {
            guard let kmod = KmodContext(root: root, kernel: kernel) else {
                availability[kernel] = .unresolved(config.modules)
                continue
            }
            let missing = config.modules.filter { kmod.check($0, kernel: kernel) != nil }
            availability[kernel] = missing.isEmpty ? .resolved : .unresolved(missing)
        }
        let stale = kernels.filter { availability[$0] == .resolved && initramfsPredatesDriver(root: root, kernel: $0) }
        let bootID = root.isHost && kernelOverride == nil
            ? (try? Files.read("/proc/sys/kernel/random/boot_id", limit: 64).get())
                .map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) }
            : nil
        let grubenvMount = root.isHost
            ? (try? Files.read("/proc/self/mountinfo", limit: 4 * 1024 * 1024).get()).flatMap { MountInfo.containing(grubenvPath, mountinfo: $0) }
            : nil
        return SystemSnapshot(root: root, config: config, configBytes: configBytes, running: running, guardVerdict: verdict,
                              grubenvPath: grubenvPath, grubenv: block, grubenvProblem: problem, menu: menu,
                              grubConfigPath: grubConfigPath, kernels: kernels, availability: availability,
                              staleInitramfs: Set(stale), bootID: bootID?.isEmpty == false ? bootID : nil, grubenvMount: grubenvMount)
    }

    /// True when a file kmodguard installed in `updates/kmodguard` of `kernel` is newer than the
    /// kernel's initramfs (or there is no initramfs): the image cannot hold that driver.
    package static func initramfsPredatesDriver(root: SystemRoot, kernel: KernelRelease) -> Bool {
        func modified(_ path: String) -> FileStatus.Time? { (try? FileStatus.of(path))?.modified }
        let directory = root.path("/lib/modules/" + kernel.string + "/updates/kmodguard")
        guard case .success(let names) = Files.list(directory),
              let newestDriver = names.compactMap({ modified(directory + "/" + $0) }).max() else { return false }
        let images = [root.boot + "/initrd.img-" + kernel.string, root.boot + "/initramfs-" + kernel.string + ".img"]
        guard let image = images.compactMap(modified).max() else { return true }
        return image < newestDriver
    }
}
