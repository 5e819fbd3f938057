import KmodguardCore
import KmodguardSystem

/// The files of a driver source directory as tar entries under `NAME-VERSION/`, sorted, without
/// version-control data and Kbuild outputs (a tree built in place publishes only its sources).
package enum SourceTree {
    package static let skippedNames: Set<String> = [".git", ".svn", ".hg", "modules.order", "Module.symvers", ".tmp_versions"]
    package static let skippedSuffixes = [".o", ".ko", ".mod", ".mod.c", ".cmd", ".a", ".order"]
    package static let maximumBytes = 512 << 20

    package static func entries(_ directory: String, prefix: String) throws(DatabaseError) -> [TarEntry] {
        var entries = [TarEntry(path: prefix, kind: .directory, mode: 0o755)]
        var total = 0
        try walk(directory, relative: "", prefix: prefix, into: &entries, total: &total)
        return entries
    }

    package static func isSkipped(_ name: String) -> Bool {
        skippedNames.contains(name) || skippedSuffixes.contains { name.hasSuffix($0) }
    }

    private static func walk(_ root: String, relative: String, prefix: String, into entries: inout [TarEntry],
                             total: inout Int) throws(DatabaseError) {
        let directory = relative.isEmpty ? root : root + "/" + relative
        let names: [String]
        switch Files.list(directory) {
        case .success(let listed): names = listed.sorted()
        case .failure(let error): throw .system(error)
        }
        for name in names where !isSkipped(name) {
            let path = directory + "/" + name
            let inside = relative.isEmpty ? name : relative + "/" + name
            let info: FileStatus
            do {
                info = try FileStatus.of(path)
            } catch {
                throw .system(error)
            }
            switch info.kind {
            case .directory:
                entries.append(TarEntry(path: prefix + "/" + inside, kind: .directory, mode: 0o755))
                try walk(root, relative: inside, prefix: prefix, into: &entries, total: &total)
            case .regular:
                total += info.size
                guard total <= maximumBytes else { throw .usage(root + ": more than " + String(maximumBytes) + " bytes of source") }
                let bytes: [UInt8]
                switch Files.read(path, limit: maximumBytes) {
                case .success(let read): bytes = read
                case .failure(let error): throw .system(error)
                }
                entries.append(TarEntry(path: prefix + "/" + inside, kind: .file, mode: info.anyoneMayExecute ? 0o755 : 0o644, data: bytes))
            case .symbolicLink:
                let target: String
                do {
                    target = try Links.target(of: path)
                } catch {
                    throw .system(error)
                }
                let link = ArchivePath(components: (prefix + "/" + inside).split(separator: "/").map(String.init))
                if let problem = SafeExtractor.symlinkProblem(target, from: link, kinds: [:]) {
                    throw .usage(path + " " + problem + "; clients would refuse the tarball")
                }
                entries.append(TarEntry(path: prefix + "/" + inside, kind: .symlink(target: target), mode: 0o777))
            case .other:
                throw .usage(path + " is not a regular file, directory or symlink; remove it from the source")
            }
        }
    }
}
