import Foundation
package import KmodguardCompletion
package import KmodguardCore
package import KmodguardDatabase
import KmodguardSystem

package struct DatabaseTestFailure: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}

/// Paths and helpers shared by the database tests.
package enum DatabaseTestSupport {
    package static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    package static let fixtureSource = repository + "/Tests/Fixtures/kmod-fixture"
    package static let environment = ProcessInfo.processInfo.environment
    /// scripts/test sets this: then a missing fixture root fails instead of skipping tests.
    package static let required = environment["KMODGUARD_REQUIRE_INTEGRATION"] == "1"

    /// scripts/fixture-kernels' root: real module trees and a kmodguard_fixture.ko built for K_OLD.
    package static let fixtureRoot: String? = {
        var candidates: [String] = []
        if let root = environment["KMODGUARD_FIXTURE_ROOT"], !root.isEmpty { candidates.append(root) }
        let cache = environment["KMODGUARD_CACHE"] ?? "/var/cache/kmodguard-dev"
        if let names = try? FileManager.default.contentsOfDirectory(atPath: cache) {
            candidates += names.filter { $0.hasPrefix("fixture-root-") }.sorted().reversed().map { cache + "/" + $0 }
        }
        return candidates.first { FileManager.default.fileExists(atPath: $0 + "/.kmodguard-fixture") }
    }()

    package static var fixtureAvailable: Bool { fixtureRoot != nil || required }

    /// K_OLD and K_NEW of the fixture root.
    package static var fixtureKernels: (old: KernelRelease, new: KernelRelease)? {
        guard let root = fixtureRoot, let text = try? String(contentsOfFile: root + "/.kmodguard-fixture", encoding: .utf8) else { return nil }
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { values[parts[0]] = parts[1] }
        }
        guard let old = values["K_OLD"].flatMap(KernelRelease.init), let new = values["K_NEW"].flatMap(KernelRelease.init) else { return nil }
        return (old, new)
    }

    package static func run(_ executable: String, _ arguments: [String]) throws(DatabaseTestFailure) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do {
            try process.run()
        } catch {
            throw DatabaseTestFailure("cannot run " + executable + ": " + String(describing: error))
        }
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw DatabaseTestFailure(([executable] + arguments).joined(separator: " ") + " failed: " + String(decoding: output, as: UTF8.self))
        }
    }

    package static func temporaryDirectory(_ label: String) -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kmodguard-" + label + "-" + UUID().uuidString).path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Every file below `directory` (relative paths), for "nothing was left behind" checks.
    package static func files(under directory: String) -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return [] }
        var found: [String] = []
        while let next = enumerator.nextObject() as? String { found.append(next) }
        return found.sorted()
    }
}

/// One test's world: a machine root trusting a fresh key, and a database directory served by
/// the HTTPS test server (or used through file://).
package struct DatabaseTestBed {
    package let server: DatabaseTestServer
    package let name: String
    package let root: String
    package let key: SigningKey
    package var database: String { server.documentRoot + "/" + name }
    package var url: String { server.base + "/" + name + "/" }

    package init() throws {
        server = try DatabaseTestServer.shared.get()
        name = "db-" + UUID().uuidString
        root = DatabaseTestSupport.temporaryDirectory("db-root")
        key = SigningKey()
        try FileManager.default.createDirectory(atPath: root + "/etc/kmodguard/keys", withIntermediateDirectories: true)
        try Data(key.publicKey.fileText.utf8).write(to: URL(fileURLWithPath: root + "/etc/kmodguard/keys/test.pub"))
    }

    package var systemRoot: SystemRoot { SystemRoot(root) }

    /// Short waits, the test CA, few attempts.
    package var policy: DownloadPolicy {
        var policy = DownloadPolicy()
        policy.caFile = server.caFile
        policy.attempts = 3
        policy.backoffSeconds = 0.05
        policy.connectTimeoutSeconds = 5
        policy.totalTimeoutSeconds = 20
        return policy
    }

    package func client(_ url: String? = nil, policy: DownloadPolicy? = nil) -> DriverDatabase {
        DriverDatabase(url: url ?? self.url, root: systemRoot, policy: policy ?? self.policy)
    }

    /// `kmodguard publish` of the fixture driver into this database.
    @discardableResult
    package func publish(baseURL: String? = nil, prebuilt: [(KernelRelease, String)] = [], kernels: [DriverKernelRange] = [],
                 version: String? = nil, checkVermagic: Bool = true, keyFile: String? = nil) throws -> Publisher.Result {
        let keyPath = keyFile ?? writeKey()
        var request = PublishRequest(source: DatabaseTestSupport.fixtureSource, keyFile: keyPath, output: database)
        request.baseURL = baseURL
        request.prebuiltModules = prebuilt.map { (kernel: $0.0, path: $0.1) }
        request.kernels = kernels
        request.version = version
        request.checkVermagic = checkVermagic
        return try Publisher(root: systemRoot).publish(request)
    }

    /// The test key as a key file (outside the served tree).
    package func writeKey() -> String {
        let path = root + "/publisher.key"
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: Data(key.fileText.utf8), attributes: [.posixPermissions: 0o600])
        }
        return path
    }

    /// Replaces the index with `index`, signed by `signer` (default: the trusted key).
    package func writeIndex(_ index: DriverIndex, signer: SigningKey? = nil) throws {
        try Publisher.writeSigned(index, to: database, key: signer ?? key)
    }

    package func readIndex() throws -> DriverIndex {
        try IndexCodec.decode(Array(try Data(contentsOf: URL(fileURLWithPath: database + "/index.json"))), url: "test")
    }

    /// Puts `bytes` into the database as `relative` and returns its artifact (relative URL).
    package func addFile(_ relative: String, _ bytes: [UInt8]) throws -> DriverArtifact {
        let path = database + "/" + relative
        try FileManager.default.createDirectory(atPath: parentDirectory(path), withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return DriverArtifact(url: relative, sha256: FileDigest.sha256(bytes), size: bytes.count)
    }

    /// Flips one byte in the middle of the served `artifact`: same size, another SHA-256.
    package func corrupt(_ artifact: DriverArtifact) throws {
        let path = database + "/" + artifact.url
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[bytes.count / 2] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// A gzip'd tarball made of `entries`, published as the only driver (name `evil`, module
    /// `kmodguard_fixture`).
    package func publishTarball(_ entries: [TarEntry], generation: Int = 10) throws -> String {
        var writer = TarWriter()
        for entry in entries { writer.append(entry) }
        let scratch = root + "/evil.tar"
        try Data(writer.finish()).write(to: URL(fileURLWithPath: scratch))
        let compressed = try Gzip.compress(scratch, runner: LiveProcessRunner())
        let artifact = try addFile("sources/evil-1.0.tar.gz", Array(try Data(contentsOf: URL(fileURLWithPath: compressed))))
        let driver = DriverEntry(name: "evil", version: "1.0", modules: ["kmodguard_fixture"], source: artifact)
        try writeIndex(DriverIndex(generation: generation, drivers: [driver]))
        return url + "sources/evil-1.0.tar.gz"
    }

    /// Nothing extracted, nothing half-downloaded, no module installed.
    package var leftovers: [String] {
        let state = root + "/var/lib/kmodguard"
        let sources = DatabaseTestSupport.files(under: state + "/sources").map { "sources/" + $0 }
        let partial = DatabaseTestSupport.files(under: state + "/cache").filter { $0.contains(".partial-") }.map { "cache/" + $0 }
        let modules = DatabaseTestSupport.files(under: root + "/lib/modules").filter { $0.contains("updates") }
        return sources + partial + modules
    }

    package func remove() {
        try? FileManager.default.removeItem(atPath: root)
        try? FileManager.default.removeItem(atPath: database)
    }
}
