import Foundation
import KmodguardCore
import KmodguardSystem
import Testing

/// Removing, walking and copying a small tree that holds symlinks leading out of it.
@Suite struct DirectoryTreeTests {
    /// `tree/` with nested files, an empty directory and two symlinks pointing outside it, and
    /// `outside/` with what those links point at.
    func sample() throws -> SystemScratch {
        let scratch = try SystemScratch("tree")
        try scratch.file("tree/top.txt", "top")
        try scratch.file("tree/a/x.txt", "x")
        try scratch.file("tree/a/sub/y.txt", "y")
        try scratch.directory("tree/a/empty")
        try scratch.file("outside/keep.txt", "keep")
        try scratch.symlink("tree/a/link-to-file", to: scratch.path + "/outside/keep.txt")
        try scratch.symlink("tree/link-to-dir", to: "../outside")
        return scratch
    }

    @Test func removingATreeRemovesEverythingInItButNothingItsLinksPointAt() throws {
        let scratch = try sample()
        defer { scratch.remove() }
        try DirectoryTree.removeRecursively(scratch.path + "/tree")
        #expect(!FileManager.default.fileExists(atPath: scratch.path + "/tree"))
        #expect(scratch.contents("outside/keep.txt") == "keep")
    }

    @Test func removingASymlinkToADirectoryRemovesOnlyTheLink() throws {
        let scratch = try sample()
        defer { scratch.remove() }
        try DirectoryTree.removeRecursively(scratch.path + "/tree/link-to-dir")
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: scratch.path + "/tree/link-to-dir")) == nil)
        #expect(scratch.contents("outside/keep.txt") == "keep")
        #expect(scratch.contents("tree/top.txt") == "top")
    }

    @Test func removingAFileUnlinksIt() throws {
        let scratch = try sample()
        defer { scratch.remove() }
        try DirectoryTree.removeRecursively(scratch.path + "/tree/top.txt")
        #expect(scratch.contents("tree/top.txt") == nil)
    }

    @Test func walkListsParentsFirstInByteOrderWithoutFollowingLinks() throws {
        let scratch = try sample()
        defer { scratch.remove() }
        #expect(try DirectoryTree.walk(scratch.path + "/tree") == [
            "a", "a/empty", "a/link-to-file", "a/sub", "a/sub/y.txt", "a/x.txt", "link-to-dir", "top.txt",
        ])
        #expect(try DirectoryTree.walk(scratch.path + "/tree/a/empty") == [])
    }

    @Test func copyKeepsContentsPermissionsAndLinkTargets() throws {
        let scratch = try sample()
        defer { scratch.remove() }
        try scratch.file("tree/run.sh", "#!/bin/sh\n", mode: 0o755)
        try scratch.file("tree/secret", "s", mode: 0o600)
        try scratch.file("tree/ro/f", "f")
        try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: scratch.path + "/tree/ro")
        defer { try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: scratch.path + "/tree/ro") }
        try DirectoryTree.copy(scratch.path + "/tree", to: scratch.path + "/copy")
        defer { try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: scratch.path + "/copy/ro") }

        let paths = try DirectoryTree.walk(scratch.path + "/tree")
        #expect(try DirectoryTree.walk(scratch.path + "/copy") == paths)
        for path in paths {
            let original = try FileStatus.of(scratch.path + "/tree/" + path)
            let copied = try FileStatus.of(scratch.path + "/copy/" + path)
            #expect(copied.kind == original.kind, "\(path)")
            switch original.kind {
            case .regular:
                #expect(copied.permissions == original.permissions, "\(path)")
                #expect(scratch.contents("copy/" + path) == scratch.contents("tree/" + path), "\(path)")
            case .directory:
                #expect(copied.permissions == original.permissions, "\(path)")
            case .symbolicLink:
                #expect(try Links.target(of: scratch.path + "/copy/" + path) == Links.target(of: scratch.path + "/tree/" + path))
            case .other:
                Issue.record("unexpected \(path)")
            }
        }
        #expect(try FileStatus.of(scratch.path + "/copy/run.sh").permissions == 0o755)
        #expect(try FileStatus.of(scratch.path + "/copy/ro").permissions == 0o555)
    }

    @Test func copyRefusesAFifo() throws {
        let scratch = try SystemScratch("fifo")
        defer { scratch.remove() }
        try scratch.directory("tree")
        #expect(mkfifo(scratch.path + "/tree/pipe", 0o644) == 0)
        #expect(throws: SystemError(operation: "copy", path: scratch.path + "/tree/pipe", errno: .invalidArgument,
                                    message: "not a regular file, directory or symlink")) {
            try DirectoryTree.copy(scratch.path + "/tree", to: scratch.path + "/copy")
        }
    }

    @Test func makeCreatesParentsAndAcceptsAnExistingDirectory() throws {
        let scratch = try SystemScratch("make")
        defer { scratch.remove() }
        try DirectoryTree.make(scratch.path + "/a/b/c", mode: 0o700)
        try DirectoryTree.make(scratch.path + "/a/b/c")
        #expect(try FileStatus.of(scratch.path + "/a/b/c").kind == .directory)
    }
}
