import CSystem
package import KmodguardCore

/// Who may do what with a file: its permission bits, its owner, and the kernel's own answer to
/// "may this process run it" (`access(2)`).
package enum FileAccess {
    /// `chmod(2)` (follows a symlink, as chmod does).
    package static func setPermissions(_ path: String, _ mode: UInt32) throws(SystemError) {
        guard chmod(path, mode_t(mode & 0o7777)) == 0 else { throw Files.lastError("chmod", path) }
    }

    /// `lchown(2)`: changes a symlink itself, never what it points to (the trees chowned are
    /// written by the unprivileged build user, whose links must not redirect root's chown).
    package static func setOwner(_ path: String, user: UInt32, group: UInt32) throws(SystemError) {
        guard lchown(path, uid_t(user), gid_t(group)) == 0 else { throw Files.lastError("chown", path) }
    }

    /// Whether this process may execute `path` (`access(X_OK)`, as `FileManager` asks; for root
    /// any execute bit will do, and a directory counts).
    package static func isExecutable(_ path: String) -> Bool { access(path, X_OK) == 0 }
}
