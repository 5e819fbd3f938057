package import KmodguardCompletion
package import KmodguardCore
import KmodguardSystem

/// Downloaded artifacts, addressed by content: `ROOT/var/lib/kmodguard/cache/files/SHA256/NAME`.
/// A cached file is hashed again before every use and reused only when it still matches;
/// downloads land under a temporary name and are renamed in only after size and SHA-256 match.
package struct ContentCache {
    package let directory: String
    package let downloader: Downloader

    package init(root: SystemRoot, downloader: Downloader) {
        directory = root.stateDirectory + "/cache"
        self.downloader = downloader
    }

    /// A verified local copy of `artifact` (fetched from `url`), named `name`.
    package func file(_ artifact: DriverArtifact, url: String, name: String) throws(DatabaseError) -> (path: String, reused: Bool) {
        let folder = directory + "/files/" + artifact.sha256
        let path = folder + "/" + name
        if Files.exists(path) {
            if let found = try? FileDigest.sha256(file: path), found.digest == artifact.sha256, found.size == artifact.size {
                return (path, true)
            }
            FileNames.removeIgnoringErrors(path)
        }
        if let error = Files.makeDirectories(folder, mode: 0o755) { throw .system(error) }
        let temporary = folder + "/." + name + ".partial-" + String(ProcessIdentity.pid) + "-" + String(UInt32.random(in: 0...UInt32.max))
        try downloader.download(url, to: temporary, limit: artifact.size)
        let found: (digest: String, size: Int)
        do {
            found = try FileDigest.sha256(file: temporary)
        } catch {
            FileNames.removeIgnoringErrors(temporary)
            throw error
        }
        guard found.size == artifact.size else {
            FileNames.removeIgnoringErrors(temporary)
            throw .size(url: url, expected: artifact.size, actual: found.size)
        }
        guard found.digest == artifact.sha256 else {
            FileNames.removeIgnoringErrors(temporary)
            throw .checksum(url: url, expected: artifact.sha256, actual: found.digest)
        }
        do {
            try FileNames.rename(temporary, to: path)
        } catch {
            FileNames.removeIgnoringErrors(temporary)
            throw .system(error)
        }
        _ = Files.syncDirectory(folder)
        return (path, false)
    }

    /// Removes cached files no artifact in `index` refers to any more (old driver versions).
    package func prune(keeping index: DriverIndex) {
        var wanted: Set<String> = []
        for driver in index.drivers {
            wanted.insert(driver.source.sha256)
            for files in driver.prebuilt.values { for artifact in files.values { wanted.insert(artifact.sha256) } }
        }
        guard case .success(let names) = Files.list(directory + "/files") else { return }
        for name in names where !wanted.contains(name) && DriverName.isSHA256(name) {
            try? DirectoryTree.removeRecursively(directory + "/files/" + name)
        }
    }
}
