import CSystem
package import KmodguardCore

/// What `stat(2)` says about a file, as the CLI uses it: its kind, permission bits, size, owner
/// and modification time. `lstat` (the default) describes a symlink itself, which is what code
/// walking untrusted trees must look at.
package struct FileStatus: Equatable, Sendable {
    package enum Kind: Equatable, Sendable {
        case regular, directory, symbolicLink
        /// A device, FIFO or socket.
        case other
    }

    /// A modification time to the nanosecond; ordered, so "is the image older than the module"
    /// is a comparison.
    package struct Time: Comparable, Sendable {
        package let seconds: Int64
        package let nanoseconds: Int64

        package init(seconds: Int64, nanoseconds: Int64) {
            self.seconds = seconds
            self.nanoseconds = nanoseconds
        }

        package static func < (lhs: Time, rhs: Time) -> Bool {
            (lhs.seconds, lhs.nanoseconds) < (rhs.seconds, rhs.nanoseconds)
        }
    }

    package let kind: Kind
    /// `st_mode & 0o7777`.
    package let permissions: UInt32
    package let size: Int
    package let owner: UInt32
    package let group: UInt32
    package let modified: Time

    package init(kind: Kind, permissions: UInt32, size: Int, owner: UInt32, group: UInt32, modified: Time) {
        self.kind = kind
        self.permissions = permissions
        self.size = size
        self.owner = owner
        self.group = group
        self.modified = modified
    }

    init(_ info: stat) {
        let type = UInt32(info.st_mode) & UInt32(S_IFMT)
        switch type {
        case UInt32(S_IFREG): kind = .regular
        case UInt32(S_IFDIR): kind = .directory
        case UInt32(S_IFLNK): kind = .symbolicLink
        default: kind = .other
        }
        permissions = UInt32(info.st_mode) & 0o7777
        size = Int(info.st_size)
        owner = UInt32(info.st_uid)
        group = UInt32(info.st_gid)
        modified = Time(seconds: Int64(info.st_mtim.tv_sec), nanoseconds: Int64(info.st_mtim.tv_nsec))
    }

    /// The status of `path`; with `followingSymlinks` (`stat`) that of what a symlink points to,
    /// else (`lstat`) of the link itself.
    package static func of(_ path: String, followingSymlinks: Bool = false) throws(SystemError) -> FileStatus {
        var info = stat()
        if followingSymlinks {
            guard stat(path, &info) == 0 else { throw Files.lastError("stat", path) }
        } else {
            guard lstat(path, &info) == 0 else { throw Files.lastError("lstat", path) }
        }
        return FileStatus(info)
    }

    /// Any execute bit set (the owner's, the group's or the others').
    package var anyoneMayExecute: Bool { permissions & 0o111 != 0 }

    /// Whether a process running as `uid`/`gid` (not root, no supplementary groups) may search
    /// or execute it: the one class of bits that applies to it, as the kernel decides.
    package func executable(byUser uid: UInt32, group gid: UInt32) -> Bool {
        if owner == uid { return permissions & 0o100 != 0 }
        if group == gid { return permissions & 0o010 != 0 }
        return permissions & 0o001 != 0
    }
}
