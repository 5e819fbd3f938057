@testable import KmodguardService
import KmodguardCompletion
import KmodguardCore
import KmodguardSystem

/// The boot state machine of a machine with two kernels, driven by the real decision code:
/// GRUB (`BootModelGrub`, the snippet's rules), the initramfs guard (`EarlyGuard` itself, on an
/// in-memory platform), the post-boot service (`CompletionRun` itself, with scripted builds) and,
/// on an orderly reboot, prepare-shutdown (`ShutdownPlanner`).
/// One transition is one boot, from GRUB to the next reboot; a power cut may end it after any
/// single grubenv write.
enum BootModel {
    static let uuid = "3f1c2b9e-5d47-4a8e-9b61-2c0d7e4a8f15"
    static let old = KernelRelease("6.1.0-55-cloud-amd64")!
    static let new = KernelRelease("6.1.0-56-cloud-amd64")!
    static func path(_ kernel: KernelRelease) -> String {
        "gnulinux-advanced-\(uuid)>gnulinux-\(kernel.string)-advanced-\(uuid)"
    }
    static let module = "virtio_blk"

    /// grub.cfg as Debian's 10_linux writes it: entry 0 boots the newest kernel.
    static let grubConfig: [UInt8] = {
        func entry(_ kernel: KernelRelease, id: String, indent: String) -> String {
            indent + "menuentry 'Debian GNU/Linux, with Linux \(kernel.string)' --class debian $menuentry_id_option '\(id)' {\n"
                + indent + "\tlinux\t/boot/vmlinuz-\(kernel.string) root=UUID=\(uuid) ro kmodguard.boot=${kmodguard_boot}\n" + indent + "}\n"
        }
        let text = entry(new, id: "gnulinux-simple-\(uuid)", indent: "")
            + "submenu 'Advanced options for Debian GNU/Linux' $menuentry_id_option 'gnulinux-advanced-\(uuid)' {\n"
            + entry(new, id: "gnulinux-\(new.string)-advanced-\(uuid)", indent: "\t")
            + entry(old, id: "gnulinux-\(old.string)-advanced-\(uuid)", indent: "\t")
            + "}\n"
        return Array(text.utf8)
    }()
    static let menu = GrubMenu(parsing: grubConfig)

    /// What does not change while the machine boots.
    struct World: Hashable, CustomStringConvertible {
        /// /boot on the root filesystem behind the missing driver: the guard cannot reach grubenv.
        var single: Bool
        /// GRUB's save_env works (not md RAID, LVM, btrfs, ZFS).
        var grubCanSave: Bool
        var oldHasDriver: Bool
        /// The post-boot service can build the new kernel's driver.
        var buildWorks: Bool
        /// update-grub found the new kernel's driver working (01_kmodguard's generation-time check).
        var newVerifiedAtGeneration: Bool
        var activate: String

        var description: String {
            (single ? "single" : "split") + (grubCanSave ? "" : ", GRUB cannot save_env")
                + ", old kernel " + (oldHasDriver ? "good" : "bad") + ", build " + (buildWorks ? "works" : "fails")
                + (newVerifiedAtGeneration ? ", new verified at update-grub" : "") + ", ACTIVATE=" + activate
        }
    }

    /// A machine between two boots (or halted).
    struct State: Hashable, CustomStringConvertible {
        var world: World
        var env: [String: String]
        var newHasDriver: Bool
        /// state.json's record of the new kernel: (state, fingerprint).
        var newRecord: [String]?
        /// The guard gave up on this kernel and let the boot go on without its root: a human
        /// must act. A terminal state (not a loop).
        var stuckOn: KernelRelease?

        func hasDriver(_ kernel: KernelRelease) -> Bool { kernel == old ? world.oldHasDriver : newHasDriver }

        var description: String {
            let vars = env.keys.sorted().map { name in
                let value = env[name] ?? ""
                return name + "=" + (value == path(old) ? "P55" : value == path(new) ? "P56" : value)
            }
            return "[" + world.description + "; new kernel " + (newHasDriver ? "good" : "bad")
                + (stuckOn.map { "; STUCK on " + $0.string } ?? "") + "] grubenv{" + vars.joined(separator: " ") + "}"
        }
    }

    enum EdgeKind: Equatable {
        /// A kernel with its driver booted (whatever came after).
        case goodBoot
        /// A kernel without its driver booted and the machine rebooted by itself.
        case badBoot
        /// A power cut after a GRUB write, before any kernel ran.
        case cutInGrub
        /// A kernel without its driver booted and the guard let the boot go on (halt).
        case gaveUp
    }

    struct Edge {
        var to: State
        var kind: EdgeKind
        var label: String
    }

    /// Every grubenv write of the model goes through the real codec; a block that does not come
    /// back whole is a half-written grubenv.
    struct HalfWritten: Error, CustomStringConvertible {
        var description: String
    }

    static func block(_ env: [String: String]) throws -> GrubEnvBlock {
        var block = GrubEnvBlock()
        for name in env.keys.sorted() { try block.set(name, env[name] ?? "") }
        return block
    }

    static func variables(_ block: GrubEnvBlock) -> [String: String] {
        var result: [String: String] = [:]
        for (name, value) in block.variables where !value.isEmpty { result[name] = value }
        return result
    }

    /// Writes `block` the way kmodguard and GRUB do (1024 bytes in place) and reads it back.
    static func persist(_ block: GrubEnvBlock) throws -> [String: String] {
        let bytes = block.bytes
        guard bytes.count == GrubEnvBlock.size, let back = try? GrubEnvBlock(bytes) else {
            throw HalfWritten(description: "a grubenv write is not a whole 1024-byte block")
        }
        return variables(back)
    }

    // MARK: - One boot

    static func successors(_ state: State) throws -> [Edge] {
        guard state.stuckOn == nil else { return [] }
        var edges: [Edge] = []
        let generated = BootModelGrub.Generated(
            defaultKernel: new.string, defaultPath: path(new), defaultVerified: state.world.newVerifiedAtGeneration,
            goodPath: state.world.oldHasDriver ? path(old) : nil)
        let grub = BootModelGrub.boot(env: state.env, canSave: state.world.grubCanSave, generated: generated)
        for (index, written) in grub.writes.enumerated() {
            var cut = state
            cut.env = try persist(try block(written))
            edges.append(Edge(to: cut, kind: .cutInGrub, label: "GRUB save_env #\(index + 1), power cut"))
        }
        var afterGrub = state
        afterGrub.env = grub.writes.last ?? state.env
        let kernel = menu.entries.first { $0.path == grub.defaultEntry }?.kernel ?? new
        let grubSays = "GRUB boots " + kernel.string + (grub.marker.map { " (kmodguard.boot=" + $0 + ")" } ?? "")
        if state.hasDriver(kernel) {
            edges += try goodBoot(afterGrub, kernel: kernel, grubSays: grubSays)
        } else {
            edges.append(try badBoot(afterGrub, kernel: kernel, marker: grub.marker, grubSays: grubSays))
        }
        return edges
    }

    /// The guard itself, on an in-memory machine: the module is missing.
    static func badBoot(_ state: State, kernel: KernelRelease, marker: String?, grubSays: String) throws -> Edge {
        let root = SystemRoot("/m")
        var platform = ModelGuardPlatform()
        for release in [old, new] { platform.files[root.boot + "/vmlinuz-" + release.string] = [] }
        platform.files[root.boot + "/grub/grub.cfg"] = grubConfig
        if !state.world.single { platform.files[root.boot + "/grub/grubenv"] = try block(state.env).bytes }
        let verified = [old, new].filter { state.hasDriver($0) }.map { $0.string + "\n" }.joined()
        platform.files[root.verifiedKernels] = Array(verified.utf8)
        platform.files[root.path("/proc/cmdline")] = Array(
            ("BOOT_IMAGE=/boot/vmlinuz-" + kernel.string + " ro" + (marker.map { " kmodguard.boot=" + $0 } ?? "") + "\n").utf8)
        let config = try GuardConfig.parse(Array("MODULES=\(module)\nMAX_ATTEMPTS=3\n".utf8), file: "kmodguard.conf")
        var guardRun = EarlyGuard(platform: platform, root: root, kernel: kernel, dryRun: false, noWrite: false, noReboot: false)
        let outcome = guardRun.run(config: config)
        var next = state
        if let bytes = guardRun.platform.files[root.boot + "/grub/grubenv"], !state.world.single {
            guard let written = try? GrubEnvBlock(bytes), bytes.count == GrubEnvBlock.size else {
                throw HalfWritten(description: "the guard left grubenv not a whole block")
            }
            next.env = variables(written)
        }
        let says = grubSays + "; guard: " + outcome.name
        guard guardRun.platform.reboots > 0 else {
            next.stuckOn = kernel
            return Edge(to: next, kind: .gaveUp, label: says + ", boot goes on without its root")
        }
        return Edge(to: next, kind: .badBoot, label: says + ", reboot")
    }

    /// The kernel has its driver: the guard passes, the post-boot service runs.
    static func goodBoot(_ state: State, kernel: KernelRelease, grubSays: String) throws -> [Edge] {
        var config = try GuardConfig.parse(Array("MODULES=\(module)\nACTIVATE=\(state.world.activate)\n".utf8), file: "kmodguard.conf")
        config.source = "/usr/src/virtio_blk-1"
        let snapshot = SystemSnapshot(
            root: SystemRoot("/nonexistent-model-root"), config: config, configBytes: Array("MODULES=\(module)".utf8), running: kernel,
            guardVerdict: "passed", grubenvPath: "/nonexistent-model-root/boot/grub/grubenv", grubenv: try block(state.env),
            grubenvProblem: nil, menu: menu, grubConfigPath: "/nonexistent-model-root/boot/grub/grub.cfg", kernels: [new, old],
            availability: [old: state.world.oldHasDriver ? .resolved : .unresolved([module]),
                           new: state.newHasDriver ? .resolved : .unresolved([module])],
            grubenvMount: state.world.grubCanSave ? nil : MountInfo(mountPoint: "/boot", fsType: "ext4", source: "/dev/md0"))
        var persistent = PersistentState()
        if let record = state.newRecord {
            persistent.kernels[new.string] = .init(state: record[0], fingerprint: record[1], driver: nil, firstError: nil, log: nil,
                                                   message: nil, updated: "")
        }
        var run = CompletionRun(steps: ModelCompletionSteps(buildWorks: state.world.buildWorks), snapshot: snapshot,
                                state: persistent, now: "")
        run.perform()

        let says = grubSays + "; guard passed; complete"
        var edges = [Edge(to: state, kind: .goodBoot, label: says + ": power cut before it wrote anything")]
        var recorded = state
        if let record = run.state.kernels[new.string] {
            recorded.newRecord = [record.state, record.fingerprint ?? ""]
            if record.state == "initramfs" { recorded.newHasDriver = true }
        }
        if recorded != state {
            edges.append(Edge(to: recorded, kind: .goodBoot, label: says + ": state.json written, power cut before grubenv"))
        }
        var updated = recorded
        var block = try block(state.env)
        try block.apply(run.grubChanges)
        updated.env = try persist(block)
        let changes = run.grubChanges.map(\.description).joined(separator: ", ")
        let ending = says + (changes.isEmpty ? "" : " writes " + changes) + (run.rebootInto.map { ", reboots into " + $0.string } ?? ", reboot")
        // A crash or power cut ends the boot before kmodguard-shutdown.service runs; an orderly
        // reboot runs prepare-shutdown, whose decision is the real ShutdownPlanner's.
        edges.append(Edge(to: updated, kind: .goodBoot, label: ending + " (crash: no prepare-shutdown)"))
        let shutdown = ShutdownPlanner.plan(ShutdownPlanner.Observation(
            grub: GrubState(try BootModel.block(updated.env)), menu: menu, defaultKernel: menu.entries.first?.kernel, running: kernel,
            guardPassed: true, withDriver: Set([old, new].filter { updated.hasDriver($0) })))
        var shutDown = updated
        var shutdownBlock = try BootModel.block(updated.env)
        try shutdownBlock.apply(shutdown.changes)
        shutDown.env = try persist(shutdownBlock)
        edges.append(Edge(to: shutDown, kind: .goodBoot, label: ending + "; prepare-shutdown"
                          + (shutdown.changes.isEmpty ? " writes nothing" : " writes " + shutdown.changes.map(\.description).joined(separator: ", "))))
        return edges
    }

    // MARK: - Initial states

    /// Every world, and every grubenv kmodguard or an admin could leave (fallback targets name
    /// only kernels with their driver: kmodguard writes nothing else there).
    static func initialStates() -> [State] {
        var states: [State] = []
        for single in [true, false] {
            for canSave in [true, false] {
                for oldHas in [true, false] {
                    for newHas in [true, false] {
                        for buildWorks in [true, false] {
                            for verified in newHas ? [true, false] : [false] {
                                for activate in ["reboot", "next-boot"] {
                                    let world = World(single: single, grubCanSave: canSave, oldHasDriver: oldHas, buildWorks: buildWorks,
                                                      newVerifiedAtGeneration: verified, activate: activate)
                                    for env in environments(good: (oldHas ? [old] : []) + (newHas ? [new] : [])) {
                                        states.append(State(world: world, env: env, newHasDriver: newHas, newRecord: nil))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return states
    }

    static func environments(good: [KernelRelease]) -> [[String: String]] {
        let goodPaths: [String?] = [nil] + good.map(path)
        var result: [[String: String]] = []
        for next in [nil, path(old), path(new)] {
            for pin in goodPaths {
                for trial in [nil, "armed", "consumed", "failed"] {
                    for goodEntry in goodPaths {
                        for lastGood in [nil] + good {
                            var env: [String: String] = [:]
                            env["next_entry"] = next
                            env[KmodguardVariable.pin] = pin
                            env[KmodguardVariable.trial] = trial
                            if trial != nil { env[KmodguardVariable.trialKernel] = new.string }
                            env[KmodguardVariable.goodEntry] = goodEntry
                            env[KmodguardVariable.lastGood] = lastGood?.string
                            result.append(env)
                        }
                    }
                }
            }
        }
        return result
    }
}

/// The guard's machine in the model: files only; every guarded module is missing (the guard
/// runs only on a kernel without its driver) and no module tree is visible (initramfs).
struct ModelGuardPlatform: GuardPlatform {
    var files: [String: [UInt8]] = [:]
    var reboots = 0

    mutating func loadModule(_ module: String, kernel: KernelRelease, dryRun: Bool) -> ModuleLoadFailure? { .notFound }
    mutating func moduleAvailability(_ modules: [String], kernel: KernelRelease) -> ModuleAvailability { .notVisible(verified: false) }
    mutating func waitForDevice(_ tag: DeviceTag, deadline: Int64) -> Bool { false }
    func now() -> Int64 { 0 }
    func exists(_ path: String) -> Bool { files[path] != nil || files.keys.contains { $0.hasPrefix(path + "/") } }
    func readFile(_ path: String, limit: Int) -> Result<[UInt8], SystemError> {
        files[path].map { .success($0) } ?? .failure(SystemError(operation: "open", path: path, errno: .noSuchFileOrDirectory, message: "No such file or directory"))
    }
    func listDirectory(_ path: String) -> Result<[String], SystemError> {
        .success(files.keys.filter { $0.hasPrefix(path + "/") }.map { String($0.dropFirst(path.count + 1)) }.filter { !$0.contains("/") })
    }
    mutating func overwriteInPlace(_ path: String, with bytes: [UInt8]) -> SystemError? {
        guard files[path]?.count == bytes.count else { return SystemError(operation: "overwrite", path: path, errno: .invalidArgument, message: "size differs") }
        files[path] = bytes
        return nil
    }
    mutating func mount(_ tag: DeviceTag, at mountPoint: String, deadline: Int64) -> SystemError? {
        SystemError(operation: "mount", path: tag.description, errno: .noSuchDevice, message: "no device")
    }
    mutating func unmount(_ mountPoint: String) -> SystemError? { nil }
    mutating func writeRunState(_ path: String, _ bytes: [UInt8]) -> SystemError? { nil }
    mutating func log(_ level: LogLevel, _ message: String) {}
    mutating func reboot() -> SystemError {
        reboots += 1
        return SystemError(operation: "reboot", path: "", errno: Errno(rawValue: 1), message: "model: the boot ends here")
    }
}

/// Builds in the model: the driver builds for every kernel, or for none.
struct ModelCompletionSteps: CompletionSteps {
    var buildWorks: Bool
    func driverIdentity() -> String { "virtio_blk-1" }
    mutating func obtainDriver(for kernel: KernelRelease) -> DriverOutcome {
        buildWorks ? .installed(driver: "virtio_blk-1", modules: [BootModel.module])
            : .failed(message: "make failed", firstError: "error", log: nil)
    }
    mutating func rebuildInitramfs(for kernel: KernelRelease, modules: [String]) -> InitramfsOutcome { .verified(image: "initrd") }
}
