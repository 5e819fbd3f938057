import CSystem
package import KmodguardCore

/// An open file descriptor with the path it was opened by, so every failure names the file.
/// A plain value like swift-system's `FileDescriptor`: its owner closes it once (usually in a
/// `defer`). For streaming (downloads, tar members, digests) and for what must stay open (locks).
package struct OpenFile: Sendable {
    package let descriptor: Int32
    package let path: String

    /// `open(2)`'s access mode.
    package enum Access: Sendable {
        case readOnly, writeOnly, readWrite

        var flags: Int32 {
            switch self {
            case .readOnly: return O_RDONLY
            case .writeOnly: return O_WRONLY
            case .readWrite: return O_RDWR
            }
        }
    }

    /// `open(2)` flags besides the access mode. `O_CLOEXEC` is always added: no descriptor may
    /// leak into the programs the CLI starts.
    package struct Options: OptionSet, Sendable {
        package let rawValue: Int32
        package init(rawValue: Int32) { self.rawValue = rawValue }

        package static let create = Options(rawValue: O_CREAT)
        package static let exclusive = Options(rawValue: O_EXCL)
        package static let truncate = Options(rawValue: O_TRUNC)
        package static let append = Options(rawValue: O_APPEND)
        /// Fails with ELOOP instead of following a symlink in the last component.
        package static let noFollow = Options(rawValue: O_NOFOLLOW)
    }

    /// `mode` applies only when `options` creates the file.
    package static func open(_ path: String, _ access: Access, options: Options = [], mode: UInt32 = 0o644)
        throws(SystemError) -> OpenFile {
        let descriptor = kg_open(path, access.flags | options.rawValue | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw Files.lastError("open", path) }
        return OpenFile(descriptor: descriptor, path: path)
    }

    /// A new file for writing that must not exist yet, not even as a symlink (`O_EXCL`): what a
    /// download or an extracted member is written into.
    package static func create(_ path: String, mode: UInt32) throws(SystemError) -> OpenFile {
        let descriptor = kg_open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw Files.lastError("create", path) }
        return OpenFile(descriptor: descriptor, path: path)
    }

    /// Appends `bytes` to the existing file `path` (never creating it): how a log gets a line.
    package static func append(_ bytes: [UInt8], to path: String) throws(SystemError) {
        let file = try open(path, .writeOnly, options: .append)
        defer { file.close() }
        try file.write(bytes)
    }

    /// Reads at most `count` bytes (all of `buffer` by default) at the file offset into the start
    /// of `buffer`; 0 at the end of the file.
    package func read(into buffer: inout [UInt8], count: Int? = nil) throws(SystemError) -> Int {
        let wanted = min(count ?? buffer.count, buffer.count)
        return try retryingInterrupted("read") {
            buffer.withUnsafeMutableBytes { raw in CSystem.read(descriptor, raw.baseAddress, wanted) }
        }
    }

    /// `pread(2)`: at most `count` bytes from `offset` into `buffer[index...]`, the file offset
    /// untouched; 0 at the end of the file. One call: a short read is the caller's to continue.
    package func read(at offset: Int, into buffer: inout [UInt8], index: Int = 0, count: Int) throws(SystemError) -> Int {
        guard index >= 0, count >= 0, index + count <= buffer.count else {
            throw SystemError(operation: "read", path: path, errno: .invalidArgument, message: Files.errorText(EINVAL))
        }
        return try retryingInterrupted("read") {
            buffer.withUnsafeMutableBytes { raw in pread(descriptor, raw.baseAddress! + index, count, off_t(offset)) }
        }
    }

    /// Writes all of `bytes` at the file offset.
    package func write(_ bytes: [UInt8]) throws(SystemError) {
        try write(bytes[...])
    }

    /// Writes all of `bytes` at the file offset.
    package func write(_ bytes: ArraySlice<UInt8>) throws(SystemError) {
        var done = 0
        while done < bytes.count {
            done += try progressing(retryingInterrupted("write") {
                bytes.withUnsafeBytes { raw in CSystem.write(descriptor, raw.baseAddress! + done, raw.count - done) }
            })
        }
    }

    /// Writes all of `bytes` at `offset` (`pwrite(2)`), the file offset untouched.
    package func write<S: FileSyscalls>(_ bytes: UnsafeRawBufferPointer, at offset: Int, using sys: S = LiveFileSyscalls())
        throws(SystemError) {
        if let error = Files.writeAll(descriptor, bytes, at: offset, path: path, using: sys) { throw error }
    }

    /// `fsync(2)`: the data is on disk when this returns.
    package func sync() throws(SystemError) {
        guard fsync(descriptor) == 0 else { throw Files.lastError("fsync", path) }
    }

    package func truncate(to size: Int) throws(SystemError) {
        guard ftruncate(descriptor, off_t(size)) == 0 else { throw Files.lastError("ftruncate", path) }
    }

    /// `fstat(2)` of the open file: what was opened, whatever the path names by now.
    package func status() throws(SystemError) -> FileStatus {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw Files.lastError("fstat", path) }
        return FileStatus(info)
    }

    /// `fchmod(2)`: permission bits (`0o7777`) of the open file.
    package func setPermissions(_ mode: UInt32) throws(SystemError) {
        guard fchmod(descriptor, mode_t(mode & 0o7777)) == 0 else { throw Files.lastError("chmod", path) }
    }

    /// Takes an exclusive `flock(2)` without waiting: false when another open file holds it.
    /// Held until the descriptor is closed.
    package func lockExclusivelyIfFree() throws(SystemError) -> Bool {
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let code = kg_errno()
            if code == EWOULDBLOCK { return false }
            if code != EINTR { throw Files.lastError("flock", path) }
        }
        return true
    }

    /// Closes the descriptor; its result is not reported (data that must be durable is
    /// `sync()`ed first).
    package func close() {
        _ = CSystem.close(descriptor)
    }

    /// A write that wrote nothing would loop forever: an error instead.
    private func progressing(_ written: Int) throws(SystemError) -> Int {
        guard written > 0 else { throw SystemError(operation: "write", path: path, errno: .ioError, message: "wrote 0 bytes") }
        return written
    }

    /// Repeats `call` while it fails with EINTR; any other failure is the `SystemError`.
    private func retryingInterrupted(_ operation: String, _ call: () -> Int) throws(SystemError) -> Int {
        while true {
            let result = call()
            if result >= 0 { return result }
            if kg_errno() != EINTR { throw Files.lastError(operation, path) }
        }
    }
}
