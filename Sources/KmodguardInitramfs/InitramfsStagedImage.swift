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
            do {
                try FileNames.remove(directory + "/" + name)
            } catch {
                // Gone already is what was wanted.
                if error.errno != .noSuchFileOrDirectory { return error }
            }
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
        do {
            let file = try OpenFile.open(temporary, .readOnly, options: .noFollow)
            defer { file.close() }
            if let old = try? FileStatus.of(image, followingSymlinks: true) {
                try file.setPermissions(old.permissions)
            }
            try file.sync()
        } catch {
            return error
        }
        do {
            try FileNames.rename(temporary, to: image)
        } catch {
            return error
        }
        return nil
    }

    private var baseName: String {
        image.split(separator: "/").last.map(String.init) ?? image
    }
}
