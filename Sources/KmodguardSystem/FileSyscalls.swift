import CSystem

/// The system calls behind `Files`' writes, as a value (swift-system's mocking idea without its
/// global state): tests pass a scripted one that fails where they choose — EINTR, a short write,
/// ENOSPC, EROFS — to check that a failed write leaves no half-written file behind.
/// Each call returns what libc returns; on failure `errno` is the error of the last call.
package protocol FileSyscalls {
    func open(_ path: String, _ flags: Int32, _ mode: UInt32) -> Int32
    /// The file's size (`fstat`), or nil.
    func size(_ fd: Int32) -> Int?
    func pread(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int, _ offset: Int) -> Int
    func pwrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int, _ offset: Int) -> Int
    func fsync(_ fd: Int32) -> Int32
    func close(_ fd: Int32) -> Int32
    func rename(_ from: String, _ to: String) -> Int32
    func unlink(_ path: String) -> Int32
    var errno: Int32 { get }
}

/// libc itself.
package struct LiveFileSyscalls: FileSyscalls {
    package init() {}

    package func open(_ path: String, _ flags: Int32, _ mode: UInt32) -> Int32 { kg_open(path, flags, mode) }

    package func size(_ fd: Int32) -> Int? {
        var info = stat()
        return fstat(fd, &info) == 0 ? Int(info.st_size) : nil
    }

    package func pread(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int, _ offset: Int) -> Int {
        CSystem.pread(fd, buffer, count, off_t(offset))
    }

    package func pwrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int, _ offset: Int) -> Int {
        CSystem.pwrite(fd, buffer, count, off_t(offset))
    }

    package func fsync(_ fd: Int32) -> Int32 { CSystem.fsync(fd) }
    package func close(_ fd: Int32) -> Int32 { CSystem.close(fd) }
    package func rename(_ from: String, _ to: String) -> Int32 { CSystem.rename(from, to) }
    package func unlink(_ path: String) -> Int32 { CSystem.unlink(path) }
    package var errno: Int32 { kg_errno() }
}
