import Foundation
@testable import KmodguardDatabase
import KmodguardSystem
import KmodguardTestSupport
import Testing

/// The tar reader and the safe extractor on hand-made archives: every refusal happens before
/// anything is written, and what is allowed comes out with sane modes.
@Suite struct DatabaseArchiveTests {
    let url = "https://example.invalid/db/sources/x.tar.gz"

    /// Extracts `entries` (as a plain tar) into a fresh directory under `scratch`; returns it.
    func extract(in scratch: String, _ entries: [TarEntry]) throws(DatabaseError) -> String {
        var writer = TarWriter()
        for entry in entries { writer.append(entry) }
        let tar = scratch + "/x.tar"
        _ = FileManager.default.createFile(atPath: tar, contents: Data(writer.finish()))
        let tree = scratch + "/tree"
        try? FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
        try SafeExtractor(limits: ExtractionLimits(), runner: LiveProcessRunner()).extract(tar: tar, into: tree, url: url)
        return tree
    }

    /// `entries` must be refused with `reason`, and nothing written.
    func expectRefused(_ entries: [TarEntry], _ reason: String, sourceLocation: SourceLocation = #_sourceLocation) {
        var writer = TarWriter()
        for entry in entries { writer.append(entry) }
        let scratch = DatabaseTestSupport.temporaryDirectory("tar")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        _ = FileManager.default.createFile(atPath: scratch + "/x.tar", contents: Data(writer.finish()))
        try? FileManager.default.createDirectory(atPath: scratch + "/tree", withIntermediateDirectories: true)
        do {
            try SafeExtractor(limits: ExtractionLimits(), runner: LiveProcessRunner()).extract(tar: scratch + "/x.tar", into: scratch + "/tree", url: url)
            Issue.record("extracted, expected: \(reason)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.check == "archive", sourceLocation: sourceLocation)
            #expect(error.description.contains(reason), "\(error)", sourceLocation: sourceLocation)
            #expect(error.description.hasPrefix(url + ": archive check failed"), sourceLocation: sourceLocation)
        }
        #expect(DatabaseTestSupport.files(under: scratch + "/tree").isEmpty, sourceLocation: sourceLocation)
    }

    func file(_ path: String, _ text: String = "x", mode: UInt32 = 0o644) -> TarEntry {
        TarEntry(path: path, kind: .file, mode: mode, data: Array(text.utf8))
    }

    @Test func ordinaryTreeWithLinksInside() throws {
        let long = "d/" + String(repeating: "n", count: 150) + ".c"
        let scratch = DatabaseTestSupport.temporaryDirectory("tar")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let tree = try extract(in: scratch, [
            TarEntry(path: "d/", kind: .directory, mode: 0o700),
            file("d/a.c", "int a;"),
            file("d/run.sh", "#!/bin/sh", mode: 0o4755),
            file(long, "long"),
            TarEntry(path: "d/sub/b.c", kind: .symlink(target: "../a.c"), mode: 0o777),
            TarEntry(path: "d/c.c", kind: .hardlink(target: "d/a.c")),
            TarEntry(path: "./d/./e/", kind: .directory),
        ])
        #expect(try String(contentsOfFile: tree + "/d/sub/b.c", encoding: .utf8) == "int a;")
        #expect(try String(contentsOfFile: tree + "/d/c.c", encoding: .utf8) == "int a;")
        #expect(try String(contentsOfFile: tree + "/" + long, encoding: .utf8) == "long")
        let attributes = try FileManager.default.attributesOfItem(atPath: tree + "/d/run.sh")
        #expect((attributes[.posixPermissions] as? Int) == 0o755, "setuid dropped, executable kept")
        #expect((try FileManager.default.attributesOfItem(atPath: tree + "/d")[.posixPermissions] as? Int) == 0o755)
        #expect(FileManager.default.fileExists(atPath: tree + "/d/e"))
    }

    @Test func gnuTarReadsWhatTheWriterWrites() throws {
        var writer = TarWriter()
        writer.append(TarEntry(path: "d/", kind: .directory, mode: 0o755))
        writer.append(file("d/" + String(repeating: "x", count: 120), "hello"))
        writer.append(TarEntry(path: "d/l", kind: .symlink(target: "x"), mode: 0o777))
        let scratch = DatabaseTestSupport.temporaryDirectory("tar")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        _ = FileManager.default.createFile(atPath: scratch + "/x.tar", contents: Data(writer.finish()))
        try DatabaseTestSupport.run("/bin/tar", ["-xf", scratch + "/x.tar", "-C", scratch])
        #expect(try String(contentsOfFile: scratch + "/d/" + String(repeating: "x", count: 120), encoding: .utf8) == "hello")
    }

    @Test func readerHandlesPaxPathsFromGnuTar() throws {
        let scratch = DatabaseTestSupport.temporaryDirectory("tar")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let name = String(repeating: "p", count: 130)
        try FileManager.default.createDirectory(atPath: scratch + "/src/" + name, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: scratch + "/src/" + name + "/f.c", contents: Data("pax".utf8))
        try DatabaseTestSupport.run("/bin/tar", ["--format=pax", "-cf", scratch + "/x.tar", "-C", scratch + "/src", "."])
        try FileManager.default.createDirectory(atPath: scratch + "/tree", withIntermediateDirectories: true)
        try SafeExtractor(limits: ExtractionLimits(), runner: LiveProcessRunner()).extract(tar: scratch + "/x.tar", into: scratch + "/tree", url: url)
        #expect(try String(contentsOfFile: scratch + "/tree/" + name + "/f.c", encoding: .utf8) == "pax")
    }

    @Test func refusals() {
        expectRefused([file("ok"), file("a/../../x")], "contains a '..' component")
        expectRefused([file("/etc/passwd")], "is an absolute path")
        expectRefused([TarEntry(path: "l", kind: .symlink(target: "/etc"))], "is a symlink to the absolute path '/etc'")
        expectRefused([TarEntry(path: "d/l", kind: .symlink(target: "../../x"))], "is a symlink pointing outside the tree")
        // Each link alone stays inside; resolved for real, the second climbs out.
        expectRefused([TarEntry(path: "a/b/up", kind: .symlink(target: "..")),
                       TarEntry(path: "out", kind: .symlink(target: "a/b/up/../.."))], "passes through another symlink")
        // Writing through a symlink that points inside the tree is refused too (its target could be swapped).
        expectRefused([TarEntry(path: "l", kind: .symlink(target: "d")), file("l/x")], "lies under the symlink 'l'")
        expectRefused([file("f"), file("f/x")], "lies under the file 'f'")
        expectRefused([TarEntry(path: "h", kind: .hardlink(target: "/etc/shadow"))], "is a hard link to '/etc/shadow'")
        expectRefused([TarEntry(path: "h", kind: .hardlink(target: "later")), file("later")], "is a hard link to 'later'")
        expectRefused([TarEntry(path: "dev", kind: .other(typeflag: UInt8(ascii: "3")))], "is a device node")
        expectRefused([TarEntry(path: "blk", kind: .other(typeflag: UInt8(ascii: "4")))], "is a device node")
        expectRefused([TarEntry(path: "fifo", kind: .other(typeflag: UInt8(ascii: "6")))], "is a FIFO")
        expectRefused([file("twice"), TarEntry(path: "twice", kind: .symlink(target: "x"))], "appears twice")
        expectRefused([file("a\u{1}b")], "control characters")
    }

    @Test func corruptArchives() throws {
        var writer = TarWriter()
        writer.append(file("a.c", String(repeating: "a", count: 2000)))
        var bytes = writer.finish()
        let scratch = DatabaseTestSupport.temporaryDirectory("tar")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let extractor = SafeExtractor(limits: ExtractionLimits(), runner: LiveProcessRunner())
        try FileManager.default.createDirectory(atPath: scratch + "/tree", withIntermediateDirectories: true)

        bytes[0] ^= 1
        _ = FileManager.default.createFile(atPath: scratch + "/bad.tar", contents: Data(bytes))
        #expect { try extractor.extract(tar: scratch + "/bad.tar", into: scratch + "/tree", url: url) } throws: {
            ($0 as? DatabaseError)?.description.contains("header checksum mismatch") == true
        }
        bytes[0] ^= 1
        _ = FileManager.default.createFile(atPath: scratch + "/short.tar", contents: Data(bytes.prefix(1024)))
        #expect { try extractor.extract(tar: scratch + "/short.tar", into: scratch + "/tree", url: url) } throws: {
            ($0 as? DatabaseError)?.description.contains("runs past the end") == true
        }
        #expect(DatabaseTestSupport.files(under: scratch + "/tree").isEmpty)

        _ = FileManager.default.createFile(atPath: scratch + "/x.tar.gz", contents: Data([0x1F, 0x8B, 8, 0, 1, 2, 3]))
        #expect { _ = try extractor.extractSource(scratch + "/x.tar.gz", to: scratch + "/out", url: url) } throws: {
            ($0 as? DatabaseError)?.description.contains("not a readable tar.gz (gzip -d failed") == true
        }
        #expect(!FileManager.default.fileExists(atPath: scratch + "/out"))
    }

    @Test func compressionBombStopsAtTheLimit() throws {
        let scratch = DatabaseTestSupport.temporaryDirectory("tar")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        var writer = TarWriter()
        writer.append(file("d/dkms.conf", "PACKAGE_NAME=x"))
        writer.append(TarEntry(path: "d/zeros", kind: .file, data: [UInt8](repeating: 0, count: 64 << 20)))
        _ = FileManager.default.createFile(atPath: scratch + "/bomb.tar", contents: Data(writer.finish()))
        let compressed = try Gzip.compress(scratch + "/bomb.tar", runner: LiveProcessRunner())
        #expect(try FileManager.default.attributesOfItem(atPath: compressed)[.size] as? Int ?? 0 < 200_000)
        var limits = ExtractionLimits()
        limits.totalBytes = 1 << 20
        limits.entries = 10
        let extractor = SafeExtractor(limits: limits, runner: LiveProcessRunner())
        #expect { _ = try extractor.extractSource(compressed, to: scratch + "/out", url: url) } throws: {
            ($0 as? DatabaseError)?.description.contains("decompresses to more than") == true
        }
        #expect(DatabaseTestSupport.files(under: scratch).sorted() == ["bomb.tar", "bomb.tar.gz"])
    }

    @Test func sourceRootIsTheSingleTopDirectory() throws {
        var writer = TarWriter()
        writer.append(file("pkg-1.0/dkms.conf", "PACKAGE_NAME=pkg"))
        writer.append(file("pkg-1.0/src/a.c"))
        let scratch = DatabaseTestSupport.temporaryDirectory("tar")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        _ = FileManager.default.createFile(atPath: scratch + "/x.tar", contents: Data(writer.finish()))
        let extractor = SafeExtractor(limits: ExtractionLimits(), runner: LiveProcessRunner())
        let first = try extractor.extractSource(scratch + "/x.tar", to: scratch + "/sources/pkg-1.0", url: url)
        #expect(first == scratch + "/sources/pkg-1.0")
        #expect(FileManager.default.fileExists(atPath: first + "/src/a.c"))
        // Extracting again replaces the old tree (and leaves no scratch directories).
        _ = FileManager.default.createFile(atPath: first + "/stale.o", contents: Data())
        _ = try extractor.extractSource(scratch + "/x.tar", to: scratch + "/sources/pkg-1.0", url: url)
        #expect(!FileManager.default.fileExists(atPath: first + "/stale.o"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch + "/sources") == ["pkg-1.0"])
    }
}
