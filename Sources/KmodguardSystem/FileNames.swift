import CSystem
package import KmodguardCore

/// Adding, moving and removing one name in a directory: `rename(2)`, `unlink(2)`, `mkdir(2)`.
/// These are what make a write atomic or clean up after one; whole trees are `DirectoryTree`'s.
package enum FileNames {
    /// Moves `source` to `destination` in one step, replacing what was there (same filesystem).
    /// The error names the destination, the name being replaced.
    package static func rename(_ source: String, to destination: String) throws(SystemError) {
        guard CSystem.rename(source, destination) == 0 else { throw Files.lastError("rename", destination) }
    }

    /// `unlink(2)`: removes a file or symlink (never a directory).
    package static func remove(_ path: String) throws(SystemError) {
        guard unlink(path) == 0 else { throw Files.lastError("unlink", path) }
    }

    /// `unlink(2)` whose failure (a missing file included) is nobody's business: cleanup of
    /// temporary files on paths that already report a better error.
    package static func removeIgnoringErrors(_ path: String) {
        _ = unlink(path)
    }

    /// One new directory; fails with EEXIST if anything has the name already (unlike
    /// `DirectoryTree.make`), so a fresh scratch directory is really fresh.
    package static func makeDirectory(_ path: String, mode: UInt32 = 0o755) throws(SystemError) {
        guard mkdir(path, mode_t(mode)) == 0 else { throw Files.lastError("mkdir", path) }
    }

    /// One new directory, or nothing when a real directory is there already; a symlink to one
    /// or a file is the EEXIST error, so nothing is ever written through a link.
    package static func makeDirectoryIfMissing(_ path: String, mode: UInt32 = 0o755) throws(SystemError) {
        if mkdir(path, mode_t(mode)) == 0 { return }
        let error = Files.lastError("mkdir", path)
        var info = stat()
        if error.errno == .fileExists, lstat(path, &info) == 0, (UInt32(info.st_mode) & UInt32(S_IFMT)) == UInt32(S_IFDIR) { return }
        throw error
    }
}
