import CSystem
public import KmodguardCore

/// The libc file seam: every open/read/write/fsync/rename of both programs goes through here.
public enum Files {
    /// The `SystemError` for the current errno.
    public static func lastError(_ operation: String, _ path: String) -> SystemError {
        let code = kg_errno()
        return SystemError(operation: operation, path: path, errno: code, message: errorText(code))
    }

    public static func errorText(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error " + String(code) }
        return String(cString: text)
    }

    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0 else { return false }
        return (info.st_mode & UInt32(S_IFMT)) == UInt32(S_IFDIR)
    }

    /// Size and inode, or the error.
    public static func status(_ path: String) -> Result<(size: Int, inode: UInt64), SystemError> {
        var info = stat()
        guard stat(path, &info) == 0 else { return .failure(lastError("stat", path)) }
        return .success((Int(info.st_size), UInt64(info.st_ino)))
    }

    /// Reads at most `limit` bytes; a longer file is an EFBIG error rather than a silent cut.
    public static func read(_ path: String, limit: Int) -> Result<[UInt8], SystemError> {
        let fd = kg_open(path, O_RDONLY | O_CLOEXEC, 0)
        guard fd >= 0 else { return .failure(lastError("open", path)) }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = chunk.withUnsafeMutableBytes { buffer in
                CSystem.read(fd, buffer.baseAddress, buffer.count)
            }
            if count < 0 {
                if kg_errno() == EINTR { continue }
                return .failure(lastError("read", path))
            }
            if count == 0 { break }
            result += chunk[0..<count]
            if result.count > limit {
                return .failure(SystemError(operation: "read", path: path, errno: EFBIG,
                                            message: "larger than " + String(limit) + " bytes"))
            }
        }
        return .success(result)
    }

    /// Names in a directory, without `.` and `..`, unsorted.
    public static func list(_ path: String) -> Result<[String], SystemError> {
        guard let directory = opendir(path) else { return .failure(lastError("opendir", path)) }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            guard let raw = kg_dirent_name(entry) else { continue }
            let name = String(cString: raw)
            if name != "." && name != ".." { names.append(name) }
        }
        return .success(names)
    }

    /// Rewrites an existing file in place (same inode and size, as GRUB writes its environment
    /// block: firmware paths may not follow a new inode), then fsyncs it.
    public static func overwriteInPlace(_ path: String, with bytes: [UInt8]) -> SystemError? {
        let fd = kg_open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0)
        guard fd >= 0 else { return lastError("open", path) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let error = lastError("fstat", path)
            close(fd)
            return error
        }
        guard Int(info.st_size) == bytes.count else {
            close(fd)
            return SystemError(operation: "overwrite", path: path, errno: EINVAL,
                               message: "file is " + String(Int(info.st_size)) + " bytes, expected " + String(bytes.count))
        }
        if let error = writeAll(fd, bytes, path: path) {
            close(fd)
            return error
        }
        guard fsync(fd) == 0 else {
            let error = lastError("fsync", path)
            close(fd)
            return error
        }
        guard close(fd) == 0 else { return lastError("close", path) }
        return nil
    }

    /// Creates or replaces `path` atomically: temporary file, fsync, rename, fsync directory.
    public static func replaceAtomically(_ path: String, with bytes: [UInt8], mode: UInt32 = 0o644) -> SystemError? {
        let temporary = path + ".kmodguard-new"
        let fd = kg_open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode)
        guard fd >= 0 else { return lastError("create", temporary) }
        if let error = writeAll(fd, bytes, path: temporary) {
            close(fd)
            unlink(temporary)
            return error
        }
        guard fsync(fd) == 0, close(fd) == 0 else {
            let error = lastError("fsync", temporary)
            unlink(temporary)
            return error
        }
        guard rename(temporary, path) == 0 else {
            let error = lastError("rename", path)
            unlink(temporary)
            return error
        }
        return syncDirectory(parentDirectory(path))
    }

    public static func syncDirectory(_ path: String) -> SystemError? {
        let fd = kg_open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)
        guard fd >= 0 else { return lastError("open", path) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { return lastError("fsync", path) }
        return nil
    }

    /// `mkdir -p`.
    public static func makeDirectories(_ path: String, mode: UInt32 = 0o755) -> SystemError? {
        if isDirectory(path) { return nil }
        let parent = parentDirectory(path)
        if parent != path, parent != "/", parent != "." {
            if let error = makeDirectories(parent, mode: mode) { return error }
        }
        if mkdir(path, mode_t(mode)) != 0 && kg_errno() != EEXIST { return lastError("mkdir", path) }
        return nil
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) -> SystemError? {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                pwrite(fd, buffer.baseAddress! + offset, buffer.count - offset, off_t(offset))
            }
            if written < 0 {
                if kg_errno() == EINTR { continue }
                return lastError("write", path)
            }
            offset += written
        }
        return nil
    }
}
