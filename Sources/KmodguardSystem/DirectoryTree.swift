import CSystem
package import KmodguardCore

/// Whole directory trees: making a path of directories, removing, listing and copying a tree.
/// Symlinks inside a tree are never followed: the trees handled here (scratch copies a build
/// user writes into, extracted archives) hold whatever an untrusted source put there.
package enum DirectoryTree {
    /// `mkdir -p`: `path` and its missing parents, with `mode`; an existing directory is fine.
    package static func make(_ path: String, mode: UInt32 = 0o755) throws(SystemError) {
        if let error = Files.makeDirectories(path, mode: mode) { throw error }
    }

    /// `rm -rf path`, but ENOENT when there is nothing: a file or symlink is unlinked; a
    /// directory is emptied through descriptors (`openat` with `O_NOFOLLOW`, `unlinkat`), so a
    /// symlink swapped in while it runs cannot send the removal elsewhere, then removed.
    package static func removeRecursively(_ path: String) throws(SystemError) {
        guard try FileStatus.of(path).kind == .directory else {
            try FileNames.remove(path)
            return
        }
        let descriptor = kg_open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0)
        guard descriptor >= 0 else { throw Files.lastError("open", path) }
        try empty(descriptor, path: path)
        guard rmdir(path) == 0 else { throw Files.lastError("rmdir", path) }
    }

    /// Every path under `path`, relative to it: each directory before its contents, names in
    /// byte order (the same list every time). Symlinks are listed, never followed.
    package static func walk(_ path: String) throws(SystemError) -> [String] {
        var found: [String] = []
        try walk(path, relative: "", into: &found)
        return found
    }

    /// `cp -R source destination` as `FileManager.copyItem` does it: a directory is created
    /// (existing is fine), filled, then given the source's permission bits (so a read-only
    /// directory can still be filled); a regular file is copied with its permission bits; a
    /// symlink is recreated with the same target. A device, FIFO or socket is an error (EINVAL)
    /// rather than something to open and read.
    package static func copy(_ source: String, to destination: String) throws(SystemError) {
        let status = try FileStatus.of(source)
        switch status.kind {
        case .directory:
            try make(destination, mode: 0o777)
            let names: [String]
            switch Files.list(source) {
            case .success(let listed): names = listed.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            case .failure(let error): throw error
            }
            for name in names { try copy(source + "/" + name, to: destination + "/" + name) }
            try FileAccess.setPermissions(destination, status.permissions)
        case .regular:
            try copyFile(source, to: destination, permissions: status.permissions)
        case .symbolicLink:
            try Links.makeSymbolic(destination, to: Links.target(of: source))
        case .other:
            throw SystemError(operation: "copy", path: source, errno: .invalidArgument,
                              message: "not a regular file, directory or symlink")
        }
    }

    /// Removes everything in the directory open as `descriptor`, which it closes.
    private static func empty(_ descriptor: Int32, path: String) throws(SystemError) {
        guard let directory = fdopendir(descriptor) else {
            let error = Files.lastError("opendir", path)
            _ = close(descriptor)
            throw error
        }
        defer { closedir(directory) }
        // All names first: a directory changed while readdir walks it may skip entries.
        for name in Files.names(in: directory) {
            let child = path + "/" + name
            var info = stat()
            guard fstatat(descriptor, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { throw Files.lastError("lstat", child) }
            guard (UInt32(info.st_mode) & UInt32(S_IFMT)) == UInt32(S_IFDIR) else {
                guard unlinkat(descriptor, name, 0) == 0 else { throw Files.lastError("unlink", child) }
                continue
            }
            let inner = kg_openat(descriptor, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0)
            guard inner >= 0 else { throw Files.lastError("open", child) }
            try empty(inner, path: child)
            guard unlinkat(descriptor, name, AT_REMOVEDIR) == 0 else { throw Files.lastError("rmdir", child) }
        }
    }

    private static func walk(_ root: String, relative: String, into found: inout [String]) throws(SystemError) {
        let directory = relative.isEmpty ? root : root + "/" + relative
        let names: [String]
        switch Files.list(directory) {
        case .success(let listed): names = listed.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        case .failure(let error): throw error
        }
        for name in names {
            let inside = relative.isEmpty ? name : relative + "/" + name
            found.append(inside)
            if try FileStatus.of(root + "/" + inside).kind == .directory {
                try walk(root, relative: inside, into: &found)
            }
        }
    }

    /// One regular file: created exclusively with 0666 and then `fchmod`ed to `permissions`
    /// (the umask must not change them), data copied in chunks.
    private static func copyFile(_ source: String, to destination: String, permissions: UInt32) throws(SystemError) {
        let input = try OpenFile.open(source, .readOnly, options: .noFollow)
        defer { input.close() }
        let output = try OpenFile.open(destination, .writeOnly, options: [.create, .exclusive, .noFollow], mode: 0o666)
        defer { output.close() }
        try output.setPermissions(permissions)
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = try input.read(into: &buffer)
            if count == 0 { return }
            try output.write(buffer[0..<count])
        }
    }
}
