import CSystem
public import KmodguardCore

/// The libc file seam: every open/read/write/fsync/rename of both programs goes through here.
public enum Files {
    /// The `SystemError` for the current errno.
    public static func lastError(_ operation: String, _ path: String) -> SystemError {
        let code = kg_errno()
        return SystemError(operation: operation, path: path, errno: Errno(rawValue: code), message: errorText(code))
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
                return .failure(SystemError(operation: "read", path: path, errno: .fileTooLarge,
                                            message: "larger than " + String(limit) + " bytes"))
            }
        }
        return .success(result)
    }

    /// Names in a directory, without `.` and `..`, unsorted.
    public static func list(_ path: String) -> Result<[String], SystemError> {
        guard let directory = opendir(path) else { return .failure(lastError("opendir", path)) }
        defer { closedir(directory) }
        return .success(names(in: directory))
    }

    /// Every name an open directory stream still has, without `.` and `..`.
    static func names(in directory: OpaquePointer) -> [String] {
        var names: [String] = []
        while let entry = readdir(directory) {
            guard let raw = kg_dirent_name(entry) else { continue }
            let name = String(cString: raw)
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Rewrites an existing file in place (same inode and size, as GRUB writes its environment
    /// block: firmware paths may not follow a new inode), then fsyncs it. If a write fails part
    /// way, the old bytes are written back (best effort) so the file is not left half old, half new.
    public static func overwriteInPlace(_ path: String, with bytes: [UInt8]) -> SystemError? {
        overwriteInPlace(path, with: bytes, using: LiveFileSyscalls())
    }

    /// Creates or replaces `path` atomically: temporary file, fsync, rename, fsync directory.
    /// On any failure the temporary file is removed and `path` is untouched.
    public static func replaceAtomically(_ path: String, with bytes: [UInt8], mode: UInt32 = 0o644) -> SystemError? {
        replaceAtomically(path, with: bytes, mode: mode, using: LiveFileSyscalls())
    }

    public static func syncDirectory(_ path: String) -> SystemError? {
        syncDirectory(path, using: LiveFileSyscalls())
    }

    package static func overwriteInPlace<S: FileSyscalls>(_ path: String, with bytes: [UInt8], using sys: S) -> SystemError? {
        let fd = sys.open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0)
        guard fd >= 0 else { return error("open", path, sys.errno) }
        guard let size = sys.size(fd) else {
            let failure = error("fstat", path, sys.errno)
            _ = sys.close(fd)
            return failure
        }
        guard size == bytes.count else {
            _ = sys.close(fd)
            return SystemError(operation: "overwrite", path: path, errno: .invalidArgument,
                               message: "file is " + String(size) + " bytes, expected " + String(bytes.count))
        }
        var old = [UInt8](repeating: 0, count: bytes.count)
        if case .failure(let failure) = readAll(fd, into: &old, path: path, using: sys) {
            _ = sys.close(fd)
            return failure
        }
        if let failure = writeAll(fd, bytes, path: path, using: sys) {
            // Nothing or part of it reached the file: put the old bytes back.
            let restored = writeAll(fd, old, path: path, using: sys) == nil && sys.fsync(fd) == 0
            _ = sys.close(fd)
            return restored ? failure : SystemError(operation: failure.operation, path: path, errno: failure.errno,
                                                    message: failure.message + "; the old contents could not be written back")
        }
        guard sys.fsync(fd) == 0 else {
            let failure = error("fsync", path, sys.errno)
            _ = sys.close(fd)
            return failure
        }
        guard sys.close(fd) == 0 else { return error("close", path, sys.errno) }
        return nil
    }

    package static func replaceAtomically<S: FileSyscalls>(_ path: String, with bytes: [UInt8], mode: UInt32 = 0o644,
                                                          using sys: S) -> SystemError? {
        let temporary = path + ".kmodguard-new"
        let fd = sys.open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode)
        guard fd >= 0 else { return error("create", temporary, sys.errno) }
        if let failure = writeAll(fd, bytes, path: temporary, using: sys) {
            _ = sys.close(fd)
            _ = sys.unlink(temporary)
            return failure
        }
        if sys.fsync(fd) != 0 {
            let failure = error("fsync", temporary, sys.errno)
            _ = sys.close(fd)
            _ = sys.unlink(temporary)
            return failure
        }
        if sys.close(fd) != 0 {
            let failure = error("close", temporary, sys.errno)
            _ = sys.unlink(temporary)
            return failure
        }
        guard sys.rename(temporary, path) == 0 else {
            let failure = error("rename", path, sys.errno)
            _ = sys.unlink(temporary)
            return failure
        }
        return syncDirectory(parentDirectory(path), using: sys)
    }

    package static func syncDirectory<S: FileSyscalls>(_ path: String, using sys: S) -> SystemError? {
        let fd = sys.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)
        guard fd >= 0 else { return error("open", path, sys.errno) }
        defer { _ = sys.close(fd) }
        guard sys.fsync(fd) == 0 else { return error("fsync", path, sys.errno) }
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

    /// Writes all of `bytes` from offset 0, retrying EINTR and short writes.
    static func writeAll<S: FileSyscalls>(_ fd: Int32, _ bytes: [UInt8], path: String, using sys: S) -> SystemError? {
        bytes.withUnsafeBytes { writeAll(fd, $0, at: 0, path: path, using: sys) }
    }

    /// Writes all of `bytes` at `start` (`pwrite(2)`, the file offset untouched), retrying EINTR
    /// and short writes: the one write loop, for whole files and for streamed chunks alike.
    static func writeAll<S: FileSyscalls>(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at start: Int, path: String,
                                          using sys: S) -> SystemError? {
        var done = 0
        while done < bytes.count {
            let written = sys.pwrite(fd, bytes.baseAddress! + done, bytes.count - done, start + done)
            if written < 0 {
                let code = sys.errno
                if code == EINTR { continue }
                return error("write", path, code)
            }
            if written == 0 { return SystemError(operation: "write", path: path, errno: .ioError, message: "wrote nothing") }
            done += written
        }
        return nil
    }

    /// Fills `buffer` from offset 0, retrying EINTR and short reads.
    static func readAll<S: FileSyscalls>(_ fd: Int32, into buffer: inout [UInt8], path: String, using sys: S) -> Result<Void, SystemError> {
        var offset = 0
        while offset < buffer.count {
            let count = buffer.withUnsafeMutableBytes { raw in
                sys.pread(fd, raw.baseAddress! + offset, raw.count - offset, offset)
            }
            if count < 0 {
                let code = sys.errno
                if code == EINTR { continue }
                return .failure(error("read", path, code))
            }
            if count == 0 {
                return .failure(SystemError(operation: "read", path: path, errno: .ioError, message: "file shrank while read"))
            }
            offset += count
        }
        return .success(())
    }

    static func error(_ operation: String, _ path: String, _ code: Int32) -> SystemError {
        SystemError(operation: operation, path: path, errno: Errno(rawValue: code), message: errorText(code))
    }
}
