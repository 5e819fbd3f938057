import CSystem
public import KmodguardCore

/// The guard's platform on a real machine: libkmod, libblkid, libc, kmsg.
public struct LiveGuardPlatform: GuardPlatform {
    public let root: SystemRoot
    let logger: Kmsg
    var contexts: [(KernelRelease, KmodContext)] = []

    public init(root: SystemRoot, logger: Kmsg) {
        self.root = root
        self.logger = logger
    }

    mutating func context(_ kernel: KernelRelease) -> KmodContext? {
        if let found = contexts.first(where: { $0.0 == kernel }) { return found.1 }
        guard let created = KmodContext(root: root, kernel: kernel) else { return nil }
        contexts.append((kernel, created))
        return created
    }

    public mutating func loadModule(_ module: String, kernel: KernelRelease, dryRun: Bool) -> ModuleLoadFailure? {
        guard Files.isDirectory(root.modules(kernel)) else { return .missingFile(root.modules(kernel)) }
        guard let context = context(kernel) else { return .other(errno: .noMemory, message: "cannot create a libkmod context") }
        return dryRun ? context.check(module, kernel: kernel) : context.load(module, kernel: kernel)
    }

    public mutating func moduleAvailability(_ modules: [String], kernel: KernelRelease) -> ModuleAvailability {
        guard Files.isDirectory(root.modules(kernel)) else { return .notVisible(verified: false) }
        guard let context = context(kernel) else { return .unresolved(modules) }
        let missing = modules.filter { context.check($0, kernel: kernel) != nil }
        return missing.isEmpty ? .resolved : .unresolved(missing)
    }

    public mutating func waitForDevice(_ tag: DeviceTag, deadline: Int64) -> Bool {
        Blkid.waitForDevice(tag, deadline: deadline) != nil
    }

    public func now() -> Int64 { MonotonicClock.milliseconds() }
    public func exists(_ path: String) -> Bool { Files.exists(path) }
    public func readFile(_ path: String, limit: Int) -> Result<[UInt8], SystemError> { Files.read(path, limit: limit) }
    public func listDirectory(_ path: String) -> Result<[String], SystemError> { Files.list(path) }

    public mutating func overwriteInPlace(_ path: String, with bytes: [UInt8]) -> SystemError? {
        Files.overwriteInPlace(path, with: bytes)
    }

    public mutating func mount(_ tag: DeviceTag, at mountPoint: String, deadline: Int64) -> SystemError? {
        guard let device = Blkid.waitForDevice(tag, deadline: deadline) else {
            return SystemError(operation: "find", path: tag.description, errno: .noSuchDevice, message: "no device with this tag")
        }
        guard let type = Blkid.filesystemType(device) else {
            return SystemError(operation: "probe", path: device, errno: .invalidArgument, message: "unknown filesystem type")
        }
        if root.isHost, let running = KernelIdentity.release().flatMap({ KernelRelease($0) }), let context = context(running) {
            context.loadFilesystem(type, kernel: running)
        }
        if let error = Files.makeDirectories(mountPoint) { return error }
        return Mounts.mount(device, at: mountPoint, type: type)
    }

    public mutating func unmount(_ mountPoint: String) -> SystemError? { Mounts.unmount(mountPoint) }

    public mutating func writeRunState(_ path: String, _ bytes: [UInt8]) -> SystemError? {
        if let error = Files.makeDirectories(parentDirectory(path)) { return error }
        return Files.replaceAtomically(path, with: bytes)
    }

    public mutating func log(_ level: LogLevel, _ message: String) { logger.log(level, message) }

    public mutating func reboot() -> SystemError { Power.reboot() }
}
