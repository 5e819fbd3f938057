package import KmodguardCompletion
package import KmodguardCore
package import KmodguardSystem

/// The client of a remote driver database (docs/database.md): fetches `index.json.sig` and
/// `index.json`, verifies the Ed25519 signature against the trusted keys before reading a byte
/// of the index, refuses replayed (older) indexes, picks the driver for a kernel, and downloads
/// a prebuilt module for that exact kernel or else the source tarball, verified by size and
/// SHA-256 (and vermagic for modules) into a content-addressed cache. Installs nothing.
package struct DriverDatabase {
    /// `DATABASE_URL`: the database directory or its index.json.
    package let url: String
    package let root: SystemRoot
    package let runner: any ProcessRunning
    package var policy: DownloadPolicy
    package var limits = ExtractionLimits()
    /// Progress lines (downloads, cache reuse) for the journal.
    package var log: (String) -> Void = { _ in }
    /// The index once loaded and verified, or why it could not be: one `complete` asks for it
    /// several times (the retry fingerprint, then each kernel's driver) and downloads it once,
    /// so the fingerprint and every fetch see the same index. Copies of this value share it.
    private let loaded = LoadedIndex()

    private final class LoadedIndex {
        var result: Result<DriverIndex, DatabaseError>?
    }

    package static let indexLimit = 16 << 20
    package static let signatureLimit = 4096

    package init(url: String, root: SystemRoot, runner: any ProcessRunning = LiveProcessRunner(), policy: DownloadPolicy = DownloadPolicy()) {
        self.url = url
        self.root = root
        self.runner = runner
        self.policy = policy
    }

    package var indexURL: String { DatabaseURL.index(url) }

    /// Where extracted source trees go: `ROOT/var/lib/kmodguard/sources/NAME-VERSION`.
    package var sourcesDirectory: String { root.stateDirectory + "/sources" }

    /// The driver for `kernel` providing `modules` (the guarded modules; empty: any driver),
    /// optionally only the driver called `name`. A prebuilt module set for exactly this kernel
    /// is preferred; otherwise the source tree of the newest supporting version.
    package func fetch(for kernel: KernelRelease, modules: [String], name: String? = nil) throws(DatabaseError) -> DatabaseDriver {
        let index = try loadIndex()
        guard let selection = index.select(kernel: kernel, modules: modules, name: name) else {
            let offered = index.drivers.filter { name == nil || $0.name == name }.map { driver in
                driver.identity + " (modules " + driver.modules.joined(separator: ",") + "; kernels "
                    + (driver.kernels.isEmpty ? "any" : driver.kernels.map(\.description).joined(separator: ",")) + ")"
            }
            throw .noDriver(url: indexURL, kernel: kernel.string, modules: modules, offered: offered)
        }
        let driver = selection.driver
        let cache = ContentCache(root: root, downloader: Downloader(policy: policy))
        cache.prune(keeping: index)
        if let prebuilt = selection.prebuilt {
            var paths: [String: String] = [:]
            let vermagic = ModuleVermagic(root: root, runner: runner)
            for module in prebuilt.keys.sorted() {
                guard let artifact = prebuilt[module] else { continue }
                let artifactURL = try resolve(artifact.url, field: driver.identity + " prebuilt " + module)
                let file = try cache.file(artifact, url: artifactURL, name: module + ".ko")
                log((file.reused ? "reused cached " : "downloaded ") + artifactURL)
                try vermagic.verify(file.path, module: module, kernel: kernel, url: artifactURL)
                paths[module] = file.path
            }
            return .prebuilt(paths, driver: driver.identity)
        }
        let sourceURL = try resolve(driver.source.url, field: driver.identity + " source")
        let tarball = try cache.file(driver.source, url: sourceURL, name: driver.identity + ".tar.gz")
        log((tarball.reused ? "reused cached " : "downloaded ") + sourceURL)
        let extractor = SafeExtractor(limits: limits, runner: runner)
        let directory = try extractor.extractSource(tarball.path, to: sourcesDirectory + "/" + driver.identity, url: sourceURL)
        return .source(directory: directory, driver: driver.identity)
    }

    /// The current index, authentic and not older than any accepted before (its generation is
    /// then recorded). The signature is fetched first and checked before the index is parsed.
    /// Fetched once per value: later calls return the same index, or throw the same error.
    package func loadIndex() throws(DatabaseError) -> DriverIndex {
        if let result = loaded.result { return try result.get() }
        let result: Result<DriverIndex, DatabaseError>
        do {
            result = .success(try downloadIndex())
        } catch {
            result = .failure(error)
        }
        loaded.result = result
        return try result.get()
    }

    private func downloadIndex() throws(DatabaseError) -> DriverIndex {
        let keys = try KeyRing.load(root: root)
        let indexURL = indexURL
        let signatureURL = DatabaseURL.signature(ofIndex: indexURL)
        let downloader = Downloader(policy: policy)
        let signatureBytes: [UInt8]
        do {
            signatureBytes = try downloader.fetch(signatureURL, limit: Self.signatureLimit)
        } catch {
            guard case .transfer(_, let failure, _) = error, failure.isNotFound else { throw error }
            // No signature: report a missing index as such (a wrong DATABASE_URL), else refuse.
            _ = try downloader.fetch(indexURL, limit: Self.indexLimit)
            throw .signatureMissing(url: signatureURL, failure)
        }
        let indexBytes = try downloader.fetch(indexURL, limit: Self.indexLimit)
        let signature = try IndexSignature.parse(signatureBytes, url: signatureURL)
        try keys.verify(signature, of: indexBytes, url: indexURL)

        let index = try IndexCodec.decode(indexBytes, url: indexURL)
        let digest = FileDigest.sha256(indexBytes)
        let store = GenerationStore(root: root)
        try store.check(url: indexURL, generation: index.generation, sha256: digest)
        try store.record(url: indexURL, generation: index.generation, sha256: digest)
        return index
    }

    /// For `complete`'s retry fingerprint: changes whenever the publisher publishes (the
    /// generation), so a failed driver is retried after a new publication but not on every boot.
    /// While the database is unreachable (a transient failure) it is the generation accepted
    /// last: nothing is known to have changed, so a driver that failed to build is not retried
    /// for nothing (a failed download is retried anyway). A refused index (signature, replay, …)
    /// gives a value no publication has, so serving a good index again is a change.
    package func fingerprint() -> String {
        let prefix = "database " + indexURL
        do {
            return prefix + " generation " + String(try loadIndex().generation)
        } catch {
            guard error.isTransient else { return prefix + " refused (" + error.check + ")" }
            guard let accepted = try? GenerationStore(root: root).load().indexes[indexURL] else { return prefix + " unavailable" }
            return prefix + " generation " + String(accepted.generation)
        }
    }

    private func resolve(_ reference: String, field: String) throws(DatabaseError) -> String {
        guard let resolved = DatabaseURL.resolve(reference, relativeTo: indexURL) else {
            throw .index(url: indexURL, reason: field + " URL '" + reference + "' is not https, http or file")
        }
        return resolved
    }
}
