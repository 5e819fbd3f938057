import Glibc
package import KmodguardCore
import KmodguardSystem

/// The new image, built next to the live one (same filesystem, so the final rename is atomic):
/// an interrupted run leaves the old image or the new one, never half of one, and the next run
/// removes what it left behind.
package struct InitramfsStagedImage {
    /// Appended to the image's name for the temporary file. dracut writes its output through
    /// `OUTPUT.<pid>`, so leftovers may carry a further suffix.
    package static let suffix = ".kmodguard-new"

    package let image: String
    package var temporary: String { image + Self.suffix }

    /// Removes temporary files of earlier, interrupted runs (the caller holds the image's lock).
    package func removeStale() -> SystemError? {
        let directory = parentDirectory(image)
        let prefix = baseName + Self.suffix
        guard case .success(let names) = Files.list(directory) else { return nil }
        for name in names where name.hasPrefix(prefix) {
            let path = directory + "/" + name
            if unlink(path) != 0 && errno != ENOENT { return Files.lastError("unlink", path) }
        }
        return nil
    }

    package func discard() {
        _ = removeStale()
    }

    /// Makes the temporary file the image: fsync it, give it the old image's permissions (dracut
    /// creates 0600 files, mkinitramfs follows the umask; the admin's choice stands), rename it
    /// over the image. An error means the old image is still in place; the caller fsyncs the
    /// directory afterwards.
    package func commit() -> SystemError? {
        let fd = open(temporary, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return Files.lastError("open", temporary) }
        var old = stat()
        if stat(image, &old) == 0, fchmod(fd, old.st_mode & 0o7777) != 0 {
            let error = Files.lastError("chmod", temporary)
            close(fd)
            return error
        }
        guard fsync(fd) == 0 else {
            let error = Files.lastError("fsync", temporary)
            close(fd)
            return error
        }
        close(fd)
        guard rename(temporary, image) == 0 else { return Files.lastError("rename", image) }
        return nil
    }

    private var baseName: String {
        image.split(separator: "/").last.map(String.init) ?? image
    }
}
