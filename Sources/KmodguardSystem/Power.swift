import CSystem
public import KmodguardCore

/// The libc seam for mounts and rebooting (and, for the guard, the running kernel).
public enum Power {
    /// `uname -r`.
    public static func runningKernel() -> String? { KernelIdentity.release() }

    /// Flushes every filesystem and restarts the machine; returns only on failure.
    public static func reboot() -> SystemError {
        sync()
        _ = CSystem.reboot(RB_AUTOBOOT)
        return Files.lastError("reboot", "")
    }

    /// Ignores SIGTERM from now on: a service that asked systemd for a reboot must not be killed
    /// by that reboot's stop job before it has exited by itself.
    public static func ignoreTermination() -> SystemError? {
        guard kg_ignore_signal(SIGTERM) == 0 else { return Files.lastError("signal SIGTERM", "") }
        return nil
    }

    public static func mount(_ device: String, at mountPoint: String, type: String) -> SystemError? {
        guard CSystem.mount(device, mountPoint, type, 0, nil) == 0 else { return Files.lastError("mount " + device, mountPoint) }
        return nil
    }

    public static func unmount(_ mountPoint: String) -> SystemError? {
        sync()
        guard umount(mountPoint) == 0 else { return Files.lastError("umount", mountPoint) }
        return nil
    }

    public static func monotonicMilliseconds() -> Int64 { kg_monotonic_ms() }
    public static func sleep(milliseconds: Int) { kg_sleep_ms(Int32(milliseconds)) }
}
