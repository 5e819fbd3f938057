import KmodguardCore

/// An in-memory machine for the guard: files, module trees, devices, with failures to inject.
struct FakeGuardPlatform: GuardPlatform {
    var files: [String: [UInt8]] = [:]
    /// Per kernel, the modules that load; anything else is `.notFound` unless in `failures`.
    var loadable: [KernelRelease: Set<String>] = [:]
    var failures: [String: ModuleLoadFailure] = [:]
    /// Kernels whose module tree exists.
    var visibleTrees: Set<KernelRelease> = []
    var devices: Set<String> = []
    /// Tag → files that appear under the mount point when it is mounted.
    var mountable: [String: [String: [UInt8]]] = [:]
    var writeError: SystemError?
    var mounted: [String] = []
    var unmounted: [String] = []
    var writes: [String] = []
    var runStates: [String] = []
    var reboots = 0
    var logs: [String] = []
    var clock: Int64 = 0

    mutating func loadModule(_ module: String, kernel: KernelRelease, dryRun: Bool) -> ModuleLoadFailure? {
        if let failure = failures[module] { return failure }
        return loadable[kernel, default: []].contains(module) ? nil : .notFound
    }

    mutating func moduleAvailability(_ modules: [String], kernel: KernelRelease) -> ModuleAvailability {
        guard visibleTrees.contains(kernel) else { return .notVisible(verified: false) }
        let missing = modules.filter { !loadable[kernel, default: []].contains($0) }
        return missing.isEmpty ? .resolved : .unresolved(missing)
    }

    mutating func waitForDevice(_ tag: DeviceTag, deadline: Int64) -> Bool {
        if devices.contains(tag.description) { return true }
        clock = max(clock, deadline)
        return false
    }

    func now() -> Int64 { clock }
    func exists(_ path: String) -> Bool {
        files[path] != nil || files.keys.contains { $0.hasPrefix(path + "/") }
    }

    func readFile(_ path: String, limit: Int) -> Result<[UInt8], SystemError> {
        guard let bytes = files[path] else { return .failure(SystemError(operation: "open", path: path, errno: .noSuchFileOrDirectory, message: "No such file or directory")) }
        return bytes.count > limit ? .failure(SystemError(operation: "read", path: path, errno: .fileTooLarge, message: "too large")) : .success(bytes)
    }

    func listDirectory(_ path: String) -> Result<[String], SystemError> {
        let prefix = path + "/"
        let names = files.keys.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }.filter { !$0.contains("/") }
        return names.isEmpty && !exists(path) ? .failure(SystemError(operation: "opendir", path: path, errno: .noSuchFileOrDirectory, message: "No such file or directory")) : .success(names)
    }

    mutating func overwriteInPlace(_ path: String, with bytes: [UInt8]) -> SystemError? {
        if let writeError { return writeError }
        guard let old = files[path], old.count == bytes.count else {
            return SystemError(operation: "overwrite", path: path, errno: .invalidArgument, message: "size differs")
        }
        files[path] = bytes
        writes.append(path)
        return nil
    }

    mutating func mount(_ tag: DeviceTag, at mountPoint: String, deadline: Int64) -> SystemError? {
        guard let content = mountable[tag.description] else {
            return SystemError(operation: "find", path: tag.description, errno: .noSuchDevice, message: "no device")
        }
        for (name, bytes) in content { files[mountPoint + name] = bytes }
        mounted.append(mountPoint)
        return nil
    }

    mutating func unmount(_ mountPoint: String) -> SystemError? {
        unmounted.append(mountPoint)
        return nil
    }

    mutating func writeRunState(_ path: String, _ bytes: [UInt8]) -> SystemError? {
        files[path] = bytes
        runStates.append(path)
        return nil
    }

    mutating func log(_ level: LogLevel, _ message: String) { logs.append(message) }

    mutating func reboot() -> SystemError {
        reboots += 1
        return SystemError(operation: "reboot", path: "", errno: Errno(rawValue: 1), message: "Operation not permitted")
    }
}
