import CSystem
public import KmodguardCore

/// Restarting the machine, and surviving the stop job of a reboot asked for.
public enum Power {
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
}
