/// Log severities, as kmsg priorities.
public enum LogLevel: Int, Sendable {
    case error = 3
    case warning = 4
    case notice = 5
    case info = 6
}

/// Everything the early guard needs from the machine. The live implementation calls libkmod,
/// libblkid and libc; tests use a fake with injected failures. Generic (not `any`) so it also
/// compiles in Embedded Swift.
public protocol GuardPlatform {
    /// Loads `module` for the running kernel; with `dryRun`, resolves it and its dependencies
    /// and checks vermagic against `kernel` without inserting anything.
    mutating func loadModule(_ module: String, kernel: KernelRelease, dryRun: Bool) -> ModuleLoadFailure?
    /// Whether `module` resolves in `kernel`'s module tree (no insertion).
    mutating func moduleAvailability(_ modules: [String], kernel: KernelRelease) -> ModuleAvailability
    /// Waits until `tag` names a present block device or `deadline` (monotonic ms) passes.
    mutating func waitForDevice(_ tag: DeviceTag, deadline: Int64) -> Bool
    /// Monotonic milliseconds.
    func now() -> Int64

    func exists(_ path: String) -> Bool
    func readFile(_ path: String, limit: Int) -> Result<[UInt8], SystemError>
    func listDirectory(_ path: String) -> Result<[String], SystemError>
    /// Overwrites the existing file in place (same inode, same size), then fsyncs it.
    mutating func overwriteInPlace(_ path: String, with bytes: [UInt8]) -> SystemError?
    /// Mounts the filesystem named by `tag` at `mountPoint` (created if needed), waiting for the
    /// device until `deadline`.
    mutating func mount(_ tag: DeviceTag, at mountPoint: String, deadline: Int64) -> SystemError?
    mutating func unmount(_ mountPoint: String) -> SystemError?
    /// Creates or replaces a small state file (under /run: tmpfs, never the disk).
    mutating func writeRunState(_ path: String, _ bytes: [UInt8]) -> SystemError?

    mutating func log(_ level: LogLevel, _ message: String)
    /// sync + reboot(2). Returns only on failure.
    mutating func reboot() -> SystemError
}
