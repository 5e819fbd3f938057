import Foundation
@testable import KmodguardBuilder
import Testing

/// `DriverSource.contentDigest`, which a failed build is retried on: it follows what the tree
/// holds (a fix made in place retries the build) and nothing else (copies and touches do not).
@Suite struct SourceDigestTests {
    struct Edit: CustomTestStringConvertible, Sendable {
        let testDescription: String
        let changes: Bool
        let apply: @Sendable (String) throws -> Void
    }

    static let edits: [Edit] = [
        Edit(testDescription: "a byte of a source file", changes: true) { tree in
            try Data("int x = 2;\n".utf8).write(to: URL(fileURLWithPath: tree + "/drv.c"))
        },
        Edit(testDescription: "a new file in a subdirectory", changes: true) { tree in
            try Data("\n".utf8).write(to: URL(fileURLWithPath: tree + "/include/new.h"))
        },
        Edit(testDescription: "a file renamed", changes: true) { tree in
            try FileManager.default.moveItem(atPath: tree + "/drv.c", toPath: tree + "/drv2.c")
        },
        Edit(testDescription: "a file made executable", changes: true) { tree in
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: tree + "/drv.c")
        },
        Edit(testDescription: "a symlink pointing elsewhere", changes: true) { tree in
            try FileManager.default.removeItem(atPath: tree + "/link.h")
            try FileManager.default.createSymbolicLink(atPath: tree + "/link.h", withDestinationPath: "include/other.h")
        },
        Edit(testDescription: "an empty directory added", changes: true) { tree in
            try FileManager.default.createDirectory(atPath: tree + "/empty", withIntermediateDirectories: false)
        },
        Edit(testDescription: "every modification time moved", changes: false) { tree in
            for path in try FileManager.default.subpathsOfDirectory(atPath: tree) where path != "link.h" {
                try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1)], ofItemAtPath: tree + "/" + path)
            }
        },
        Edit(testDescription: "a file rewritten with the same bytes", changes: false) { tree in
            try Data("int x = 1;\n".utf8).write(to: URL(fileURLWithPath: tree + "/drv.c"))
        },
    ]

    @Test(arguments: edits)
    func theDigestFollowsTheTreesContents(_ edit: Edit) throws {
        let directory = try BuilderTemporaryDirectory()
        defer { directory.remove() }
        let tree = try directory.make("drv-1.0")
        try directory.write(tree + "/Kbuild", "obj-m := drv.o\n")
        try directory.write(tree + "/drv.c", "int x = 1;\n")
        _ = try directory.make("drv-1.0/include")
        try directory.write(tree + "/include/drv.h", "#define X 1\n")
        try FileManager.default.createSymbolicLink(atPath: tree + "/link.h", withDestinationPath: "include/drv.h")
        let source = try DriverSource.locate(tree)
        let before = try source.contentDigest()
        #expect(try source.contentDigest() == before)
        try edit.apply(tree)
        #expect((try source.contentDigest() != before) == edit.changes)
    }
}
