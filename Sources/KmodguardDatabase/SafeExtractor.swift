import KmodguardCore
package import KmodguardSystem

/// Unpacks a driver source tarball without trusting it. Every entry is checked before the
/// first byte is written: no absolute paths, no `..`, no devices or FIFOs, no symlink whose
/// target leaves the tree or passes through another symlink, no hard link to anything but an
/// earlier regular file of the same archive, nothing placed under a file or a symlink, and caps
/// on entries, bytes and name lengths. Files get mode 0644/0755 and the extracting user as
/// owner, whatever the archive says. On failure nothing is left behind.
package struct SafeExtractor {
    package var limits: ExtractionLimits
    package let runner: any ProcessRunning

    private struct Planned {
        let raw: String
        let path: ArchivePath
        let kind: TarEntry.Kind
        let executable: Bool
        let size: Int
        let dataOffset: Int
    }

    /// Extracts `archive` (tar or tar.gz) and moves the source tree in it (the top directory, or
    /// its single subdirectory) to `destination`, replacing what was there. Returns `destination`.
    package func extractSource(_ archive: String, to destination: String, url: String) throws(DatabaseError) -> String {
        let parent = parentDirectory(destination)
        if let error = Files.makeDirectories(parent, mode: 0o755) { throw .system(error) }
        let work = parent + "/.extract-" + String(ProcessIdentity.pid) + "-" + String(UInt32.random(in: 0...UInt32.max))
        do {
            try FileNames.makeDirectory(work, mode: 0o700)
        } catch {
            throw .system(error)
        }
        defer { try? DirectoryTree.removeRecursively(work) }

        var tar = archive
        if Gzip.isCompressed(archive) {
            tar = work + "/archive.tar"
            let headroom = limits.totalBytes / 4 + 512 * (limits.entries + 2) * 2
            try Gzip.decompress(archive, to: tar, limit: limits.totalBytes + headroom, url: url, runner: runner)
        }
        let tree = work + "/tree"
        do {
            try FileNames.makeDirectory(tree, mode: 0o755)
        } catch {
            throw .system(error)
        }
        try extract(tar: tar, into: tree, url: url)
        let source = try Self.sourceRoot(in: tree, url: url)

        let old = work + "/previous"
        do {
            if Files.exists(destination) || Files.isDirectory(destination) {
                try FileNames.rename(destination, to: old)
            }
            try FileNames.rename(source, to: destination)
        } catch {
            // Both renames are reported on the destination the caller named.
            throw .system(SystemError(operation: "rename", path: destination, errno: error.errno, message: error.message))
        }
        _ = Files.syncDirectory(parent)
        return destination
    }

    /// The directory holding `dkms.conf`, `Kbuild` or `Makefile`: the tree itself or its only
    /// subdirectory (tarballs conventionally hold one `NAME-VERSION/` directory).
    package static func sourceRoot(in tree: String, url: String) throws(DatabaseError) -> String {
        func isSource(_ directory: String) -> Bool {
            ["dkms.conf", "Kbuild", "Makefile"].contains { Files.exists(directory + "/" + $0) }
        }
        if isSource(tree) { return tree }
        if case .success(let names) = Files.list(tree), names.count == 1, Files.isDirectory(tree + "/" + names[0]),
           isSource(tree + "/" + names[0]) {
            return tree + "/" + names[0]
        }
        throw .archiveCorrupt(url: url, reason: "no dkms.conf, Kbuild or Makefile at its top or in its single top directory")
    }

    /// Checks every entry of the uncompressed `tar`, then writes them into the existing, empty
    /// directory `destination`.
    package func extract(tar: String, into destination: String, url: String) throws(DatabaseError) {
        let archive: OpenFile
        let size: Int
        do {
            archive = try OpenFile.open(tar, .readOnly)
        } catch {
            throw .system(error)
        }
        defer { archive.close() }
        do {
            size = try archive.status().size
        } catch {
            throw .system(error)
        }
        let plan = try self.plan(TarReader(file: archive, fileSize: size), url: url)
        for entry in plan {
            try write(entry, from: archive, into: destination, url: url)
        }
    }

    private func plan(_ reader: TarReader, url: String) throws(DatabaseError) -> [Planned] {
        var reader = reader
        var planned: [Planned] = []
        var kinds: [ArchivePath: TarEntry.Kind] = [:]
        var total = 0
        while true {
            let next: TarEntry?
            do {
                next = try reader.next()
            } catch {
                throw .archiveCorrupt(url: url, reason: error.reason + " at byte " + String(error.offset))
            }
            guard let entry = next else { break }
            guard planned.count < limits.entries else {
                throw .archiveLimit(url: url, reason: "more than " + String(limits.entries) + " entries")
            }
            let parsed = ArchivePath.parse(entry.path, limit: limits.pathBytes)
            guard let path = parsed.path else { throw .unsafeArchive(url: url, entry: entry.path, reason: parsed.problem ?? "is unsafe") }
            if path.components.isEmpty {
                if case .directory = entry.kind { continue }
                throw .unsafeArchive(url: url, entry: entry.path, reason: "would replace the extraction directory itself")
            }
            switch entry.kind {
            case .other(let typeflag):
                let reason: String
                switch typeflag {
                case UInt8(ascii: "3"), UInt8(ascii: "4"): reason = "is a device node"
                case UInt8(ascii: "6"): reason = "is a FIFO"
                default: reason = "has the unsupported tar type '" + String(decoding: [typeflag], as: UTF8.self) + "'"
                }
                throw .unsafeArchive(url: url, entry: entry.path, reason: reason)
            case .hardlink(let target):
                let parsedTarget = ArchivePath.parse(target, limit: limits.pathBytes)
                guard let targetPath = parsedTarget.path, kinds[targetPath] == .file else {
                    throw .unsafeArchive(url: url, entry: entry.path,
                                         reason: "is a hard link to '" + target + "', which is not a regular file earlier in the archive")
                }
            default:
                break
            }
            if let existing = kinds[path] {
                guard existing == .directory, entry.kind == .directory else {
                    throw .unsafeArchive(url: url, entry: entry.path, reason: "appears twice in the archive")
                }
                continue
            }
            total += entry.size
            guard total <= limits.totalBytes else {
                throw .archiveLimit(url: url, reason: "unpacks to more than " + String(limits.totalBytes) + " bytes")
            }
            kinds[path] = entry.kind
            planned.append(Planned(raw: entry.path, path: path, kind: entry.kind, executable: entry.mode & 0o111 != 0,
                                   size: entry.size, dataOffset: entry.dataOffset))
        }
        // Checks that need the whole archive (a symlink may come after the entries below it).
        for entry in planned {
            var prefix: [String] = []
            for component in entry.path.parent {
                prefix.append(component)
                switch kinds[ArchivePath(components: prefix)] {
                case .file?, .hardlink?:
                    throw .unsafeArchive(url: url, entry: entry.raw, reason: "lies under the file '" + prefix.joined(separator: "/") + "'")
                case .symlink?:
                    throw .unsafeArchive(url: url, entry: entry.raw, reason: "lies under the symlink '" + prefix.joined(separator: "/") + "'")
                default:
                    break
                }
            }
            if case .symlink(let target) = entry.kind {
                if let problem = Self.symlinkProblem(target, from: entry.path, kinds: kinds) {
                    throw .unsafeArchive(url: url, entry: entry.raw, reason: problem)
                }
            }
        }
        return planned
    }

    /// Resolves `target` lexically from the link's directory; safe only if it never climbs above
    /// the tree and never goes through another symlink (which would make the lexical answer wrong).
    package static func symlinkProblem(_ target: String, from link: ArchivePath, kinds: [ArchivePath: TarEntry.Kind]) -> String? {
        let bytes = Array(target.utf8)
        if bytes.isEmpty { return "is a symlink with an empty target" }
        if bytes.first == UInt8(ascii: "/") { return "is a symlink to the absolute path '" + target + "'" }
        if bytes.contains(where: { $0 < 0x20 || $0 == 0x7F }) { return "is a symlink with control characters in its target" }
        var stack = link.parent
        let parts = target.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
        for (index, part) in parts.enumerated() {
            if part == ".." {
                guard !stack.isEmpty else { return "is a symlink pointing outside the tree ('" + target + "')" }
                stack.removeLast()
                continue
            }
            stack.append(String(part))
            if index < parts.count - 1, case .symlink? = kinds[ArchivePath(components: stack)] {
                return "is a symlink whose target '" + target + "' passes through another symlink"
            }
        }
        return nil
    }

    private func write(_ entry: Planned, from archive: OpenFile, into destination: String, url: String) throws(DatabaseError) {
        var directory = destination
        for component in entry.path.parent {
            directory += "/" + component
            try makeDirectory(directory)
        }
        let path = destination + "/" + entry.path.string
        switch entry.kind {
        case .directory:
            try makeDirectory(path)
        case .file:
            let output: OpenFile
            do {
                output = try OpenFile.create(path, mode: entry.executable ? 0o755 : 0o644)
            } catch {
                throw .system(error)
            }
            defer { output.close() }
            var buffer = [UInt8](repeating: 0, count: min(max(entry.size, 1), 1 << 20))
            var done = 0
            while done < entry.size {
                let want = min(buffer.count, entry.size - done)
                let got = (try? archive.read(at: entry.dataOffset + done, into: &buffer, count: want)) ?? -1
                guard got > 0 else { throw .archiveCorrupt(url: url, reason: "cannot read the data of " + entry.raw) }
                do {
                    try output.write(buffer[0..<got])
                } catch {
                    throw .system(error)
                }
                done += got
            }
        case .symlink(let target):
            do {
                try Links.makeSymbolic(path, to: target)
            } catch {
                throw .system(error)
            }
        case .hardlink(let target):
            let existing = destination + "/" + (ArchivePath.parse(target, limit: limits.pathBytes).path?.string ?? "")
            do {
                try Links.makeHard(path, to: existing)
            } catch {
                throw .system(error)
            }
        case .other:
            throw .unsafeArchive(url: url, entry: entry.raw, reason: "has an unsupported type")
        }
    }

    /// mkdir, accepting an existing real directory (never a symlink: the plan excludes them).
    private func makeDirectory(_ path: String) throws(DatabaseError) {
        do {
            try FileNames.makeDirectoryIfMissing(path, mode: 0o755)
        } catch {
            throw .system(error)
        }
    }
}
