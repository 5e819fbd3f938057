import Foundation
import KmodguardCore
import KmodguardSystem
import Testing

/// One call of the seam made to fail in a scratch directory holding `file`, `dir/`,
/// `link-to-file`, `link-to-dir` and `dangling`, and what its `SystemError` must say.
struct FailingCall: Sendable, CustomTestStringConvertible {
    let name: String
    let operation: String
    let errno: Int32
    /// The path the error names, relative to the scratch directory.
    let path: String
    let call: @Sendable (String) throws(SystemError) -> Void

    var testDescription: String { name }

    static let all: [FailingCall] = [
        FailingCall(name: "open a missing file", operation: "open", errno: ENOENT, path: "missing/x") { (scratch: String) throws(SystemError) in
            _ = try OpenFile.open(scratch + "/missing/x", .readOnly)
        },
        FailingCall(name: "open a symlink without following it", operation: "open", errno: ELOOP, path: "link-to-file") { (scratch: String) throws(SystemError) in
            _ = try OpenFile.open(scratch + "/link-to-file", .readOnly, options: .noFollow)
        },
        FailingCall(name: "create over an existing file", operation: "create", errno: EEXIST, path: "file") { (scratch: String) throws(SystemError) in
            _ = try OpenFile.create(scratch + "/file", mode: 0o644)
        },
        FailingCall(name: "read a write-only file", operation: "read", errno: EBADF, path: "file") { (scratch: String) throws(SystemError) in
            let file = try OpenFile.open(scratch + "/file", .writeOnly)
            defer { file.close() }
            var buffer = [UInt8](repeating: 0, count: 4)
            _ = try file.read(into: &buffer)
        },
        FailingCall(name: "pread at a negative offset", operation: "read", errno: EINVAL, path: "file") { (scratch: String) throws(SystemError) in
            let file = try OpenFile.open(scratch + "/file", .readOnly)
            defer { file.close() }
            var buffer = [UInt8](repeating: 0, count: 4)
            _ = try file.read(at: -1, into: &buffer, count: 4)
        },
        FailingCall(name: "write a read-only file", operation: "write", errno: EBADF, path: "file") { (scratch: String) throws(SystemError) in
            let file = try OpenFile.open(scratch + "/file", .readOnly)
            defer { file.close() }
            try file.write([1, 2, 3])
        },
        FailingCall(name: "lstat a missing file", operation: "lstat", errno: ENOENT, path: "missing") { (scratch: String) throws(SystemError) in
            _ = try FileStatus.of(scratch + "/missing")
        },
        FailingCall(name: "stat through a dangling symlink", operation: "stat", errno: ENOENT, path: "dangling") { (scratch: String) throws(SystemError) in
            _ = try FileStatus.of(scratch + "/dangling", followingSymlinks: true)
        },
        FailingCall(name: "rename a missing file names the destination", operation: "rename", errno: ENOENT, path: "renamed") { (scratch: String) throws(SystemError) in
            try FileNames.rename(scratch + "/missing", to: scratch + "/renamed")
        },
        FailingCall(name: "unlink a directory", operation: "unlink", errno: EISDIR, path: "dir") { (scratch: String) throws(SystemError) in
            try FileNames.remove(scratch + "/dir")
        },
        FailingCall(name: "mkdir over an existing directory", operation: "mkdir", errno: EEXIST, path: "dir") { (scratch: String) throws(SystemError) in
            try FileNames.makeDirectory(scratch + "/dir")
        },
        FailingCall(name: "mkdir-if-missing over a symlink to a directory", operation: "mkdir", errno: EEXIST, path: "link-to-dir") { (scratch: String) throws(SystemError) in
            try FileNames.makeDirectoryIfMissing(scratch + "/link-to-dir")
        },
        FailingCall(name: "mkdir -p below a file", operation: "mkdir", errno: ENOTDIR, path: "file/sub") { (scratch: String) throws(SystemError) in
            try DirectoryTree.make(scratch + "/file/sub")
        },
        FailingCall(name: "readlink a regular file", operation: "readlink", errno: EINVAL, path: "file") { (scratch: String) throws(SystemError) in
            _ = try Links.target(of: scratch + "/file")
        },
        FailingCall(name: "symlink over an existing name", operation: "symlink", errno: EEXIST, path: "file") { (scratch: String) throws(SystemError) in
            try Links.makeSymbolic(scratch + "/file", to: "anything")
        },
        FailingCall(name: "hard link to a missing file names the new link", operation: "link", errno: ENOENT, path: "new-link") { (scratch: String) throws(SystemError) in
            try Links.makeHard(scratch + "/new-link", to: scratch + "/missing")
        },
        FailingCall(name: "resolve a missing path", operation: "realpath", errno: ENOENT, path: "dir/missing") { (scratch: String) throws(SystemError) in
            _ = try Links.resolved(scratch + "/dir/missing")
        },
        FailingCall(name: "chmod a missing file", operation: "chmod", errno: ENOENT, path: "missing") { (scratch: String) throws(SystemError) in
            try FileAccess.setPermissions(scratch + "/missing", 0o644)
        },
        FailingCall(name: "chown a missing file", operation: "chown", errno: ENOENT, path: "missing") { (scratch: String) throws(SystemError) in
            try FileAccess.setOwner(scratch + "/missing", user: 0, group: 0)
        },
        FailingCall(name: "remove a missing tree", operation: "lstat", errno: ENOENT, path: "missing") { (scratch: String) throws(SystemError) in
            try DirectoryTree.removeRecursively(scratch + "/missing")
        },
        FailingCall(name: "walk a missing tree", operation: "opendir", errno: ENOENT, path: "missing") { (scratch: String) throws(SystemError) in
            _ = try DirectoryTree.walk(scratch + "/missing")
        },
        FailingCall(name: "copy a missing tree", operation: "lstat", errno: ENOENT, path: "missing") { (scratch: String) throws(SystemError) in
            try DirectoryTree.copy(scratch + "/missing", to: scratch + "/copy")
        },
        FailingCall(name: "copy onto an existing file", operation: "open", errno: EEXIST, path: "dir/target") { (scratch: String) throws(SystemError) in
            try DirectoryTree.copy(scratch + "/file", to: scratch + "/dir/target")
        },
    ]
}

/// Every failure of the seam is a `SystemError` naming the operation, the path and the errno
/// (with its text), never a bare code.
@Suite struct SystemErrorTests {
    @Test(arguments: FailingCall.all)
    func anErrorCarriesOperationPathAndErrno(_ failing: FailingCall) throws {
        let scratch = try SystemScratch("errors")
        defer { scratch.remove() }
        try scratch.file("file", "data")
        try scratch.file("dir/target", "in the way")
        try scratch.symlink("link-to-file", to: "file")
        try scratch.symlink("link-to-dir", to: "dir")
        try scratch.symlink("dangling", to: "nowhere")
        do {
            try failing.call(scratch.path)
            Issue.record("\(failing.name) did not fail")
        } catch {
            #expect(error.operation == failing.operation)
            #expect(error.path == scratch.path + "/" + failing.path)
            #expect(error.errno == Errno(rawValue: failing.errno), "\(error)")
            #expect(!error.message.isEmpty)
        }
    }

    @Test func theMessageIsStrerrorsText() throws {
        do {
            _ = try OpenFile.open("/nonexistent-kmodguard-test/file", .readOnly)
            Issue.record("opened a missing file")
        } catch {
            #expect(error == SystemError(operation: "open", path: "/nonexistent-kmodguard-test/file", errno: .noSuchFileOrDirectory,
                                         message: String(cString: strerror(ENOENT))))
        }
    }
}
