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
        FailingCall(name: "open a missing file", operation: "open", errno: ENOENT, path: "missing/x") {
            _ = try OpenFile.open($0 + "/missing/x", .readOnly)
        },
        FailingCall(name: "open a symlink without following it", operation: "open", errno: ELOOP, path: "link-to-file") {
            _ = try OpenFile.open($0 + "/link-to-file", .readOnly, options: .noFollow)
        },
        FailingCall(name: "create over an existing file", operation: "create", errno: EEXIST, path: "file") {
            _ = try OpenFile.create($0 + "/file", mode: 0o644)
        },
        FailingCall(name: "read a write-only file", operation: "read", errno: EBADF, path: "file") {
            let file = try OpenFile.open($0 + "/file", .writeOnly)
            defer { file.close() }
            var buffer = [UInt8](repeating: 0, count: 4)
            _ = try file.read(into: &buffer)
        },
        FailingCall(name: "pread at a negative offset", operation: "read", errno: EINVAL, path: "file") {
            let file = try OpenFile.open($0 + "/file", .readOnly)
            defer { file.close() }
            var buffer = [UInt8](repeating: 0, count: 4)
            _ = try file.read(at: -1, into: &buffer, count: 4)
        },
        FailingCall(name: "write a read-only file", operation: "write", errno: EBADF, path: "file") {
            let file = try OpenFile.open($0 + "/file", .readOnly)
            defer { file.close() }
            try file.write([1, 2, 3])
        },
        FailingCall(name: "lstat a missing file", operation: "lstat", errno: ENOENT, path: "missing") {
            _ = try FileStatus.of($0 + "/missing")
        },
        FailingCall(name: "stat through a dangling symlink", operation: "stat", errno: ENOENT, path: "dangling") {
            _ = try FileStatus.of($0 + "/dangling", followingSymlinks: true)
        },
        FailingCall(name: "rename a missing file names the destination", operation: "rename", errno: ENOENT, path: "renamed") {
            try FileNames.rename($0 + "/missing", to: $0 + "/renamed")
        },
        FailingCall(name: "unlink a directory", operation: "unlink", errno: EISDIR, path: "dir") {
            try FileNames.remove($0 + "/dir")
        },
        FailingCall(name: "mkdir over an existing directory", operation: "mkdir", errno: EEXIST, path: "dir") {
            try FileNames.makeDirectory($0 + "/dir")
        },
        FailingCall(name: "mkdir-if-missing over a symlink to a directory", operation: "mkdir", errno: EEXIST, path: "link-to-dir") {
            try FileNames.makeDirectoryIfMissing($0 + "/link-to-dir")
        },
        FailingCall(name: "mkdir -p below a file", operation: "mkdir", errno: ENOTDIR, path: "file/sub") {
            try DirectoryTree.make($0 + "/file/sub")
        },
        FailingCall(name: "readlink a regular file", operation: "readlink", errno: EINVAL, path: "file") {
            _ = try Links.target(of: $0 + "/file")
        },
        FailingCall(name: "symlink over an existing name", operation: "symlink", errno: EEXIST, path: "file") {
            try Links.makeSymbolic($0 + "/file", to: "anything")
        },
        FailingCall(name: "hard link to a missing file names the new link", operation: "link", errno: ENOENT, path: "new-link") {
            try Links.makeHard($0 + "/new-link", to: $0 + "/missing")
        },
        FailingCall(name: "resolve a missing path", operation: "realpath", errno: ENOENT, path: "dir/missing") {
            _ = try Links.resolved($0 + "/dir/missing")
        },
        FailingCall(name: "chmod a missing file", operation: "chmod", errno: ENOENT, path: "missing") {
            try FileAccess.setPermissions($0 + "/missing", 0o644)
        },
        FailingCall(name: "chown a missing file", operation: "chown", errno: ENOENT, path: "missing") {
            try FileAccess.setOwner($0 + "/missing", user: 0, group: 0)
        },
        FailingCall(name: "remove a missing tree", operation: "lstat", errno: ENOENT, path: "missing") {
            try DirectoryTree.removeRecursively($0 + "/missing")
        },
        FailingCall(name: "walk a missing tree", operation: "opendir", errno: ENOENT, path: "missing") {
            _ = try DirectoryTree.walk($0 + "/missing")
        },
        FailingCall(name: "copy a missing tree", operation: "lstat", errno: ENOENT, path: "missing") {
            try DirectoryTree.copy($0 + "/missing", to: $0 + "/copy")
        },
        FailingCall(name: "copy onto an existing file", operation: "open", errno: EEXIST, path: "dir/target") {
            try DirectoryTree.copy($0 + "/file", to: $0 + "/dir/target")
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
            #expect(error.errno == failing.errno, "\(error)")
            #expect(!error.message.isEmpty)
        }
    }

    @Test func theMessageIsStrerrorsText() throws {
        do {
            _ = try OpenFile.open("/nonexistent-kmodguard-test/file", .readOnly)
            Issue.record("opened a missing file")
        } catch {
            #expect(error == SystemError(operation: "open", path: "/nonexistent-kmodguard-test/file", errno: ENOENT,
                                         message: String(cString: strerror(ENOENT))))
        }
    }
}
