import CSystem
public import KmodguardCore

/// `mount(2)` and `umount(2)`: the guard mounts the filesystem that holds grubenv when the
/// initramfs has not.
public enum Mounts {
    public static func mount(_ device: String, at mountPoint: String, type: String) -> SystemError? {
        guard CSystem.mount(device, mountPoint, type, 0, nil) == 0 else { return Files.lastError("mount " + device, mountPoint) }
        return nil
    }

    /// Flushes first, so what was written under the mount point is on the disk before it goes.
    public static func unmount(_ mountPoint: String) -> SystemError? {
        sync()
        guard umount(mountPoint) == 0 else { return Files.lastError("umount", mountPoint) }
        return nil
    }
}
