import CSystem
public import KmodguardCore

/// The libc seam for free space (`statvfs(3)`).
public enum FilesystemSpace {
    /// Bytes a root process can still write on the filesystem holding `path` (reserved blocks
    /// included: initramfs generators run as root).
    public static func freeBytes(_ path: String) -> Result<UInt64, SystemError> {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return .failure(Files.lastError("statvfs", path)) }
        return .success(UInt64(info.f_bfree) * UInt64(info.f_frsize))
    }
}
