import Foundation
import Glibc
import KmodguardCompletion
import KmodguardCore
@testable import KmodguardDatabase
import KmodguardTestSupport
import Testing

/// The database client against a real HTTPS server on loopback (self-signed CA made here),
/// serving trees made by `publish`: the success paths, then every way a download, a signature,
/// an index or a tarball can be wrong. Each failure must name the URL and the check, and leave
/// nothing extracted, half-downloaded or installed.
@Suite struct DatabaseClientTests {
    let kernel = KernelRelease("6.1.0-99-cloud-amd64")!
    let modules = ["kmodguard_fixture"]

    /// Runs `body`, which must fail; checks the message names `url` and `check`.
    @discardableResult
    func expectFailure(_ bed: DatabaseTestBed, check: String, url: String, sourceLocation: SourceLocation = #_sourceLocation,
                       _ body: () throws(DatabaseError) -> DatabaseDriver) -> DatabaseError? {
        do {
            let result = try body()
            Issue.record("expected the \(check) check to fail, got \(result)", sourceLocation: sourceLocation)
            return nil
        } catch {
            #expect(error.check == check, "\(error)", sourceLocation: sourceLocation)
            #expect(error.description.contains(url), "\(error) does not name \(url)", sourceLocation: sourceLocation)
            #expect(error.description.contains(check), sourceLocation: sourceLocation)
            #expect(bed.leftovers.isEmpty, "left behind: \(bed.leftovers)", sourceLocation: sourceLocation)
            return error
        }
    }

    // MARK: success

    @Test func sourceIsDownloadedVerifiedExtractedAndCached() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        let published = try bed.publish()
        var messages: [String] = []
        var client = bed.client()
        client.log = { messages.append($0) }
        let result = try client.fetch(for: kernel, modules: modules)
        guard case .source(let directory, let driver) = result else {
            Issue.record("expected source, got \(result)")
            return
        }
        #expect(driver == "kmodguard-fixture-1.0")
        #expect(directory == bed.root + "/var/lib/kmodguard/sources/kmodguard-fixture-1.0")
        for file in ["dkms.conf", "Makefile", "kmodguard_fixture.c"] {
            let extracted = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + file))
            let original = try Data(contentsOf: URL(fileURLWithPath: DatabaseTestSupport.fixtureSource + "/" + file))
            #expect(extracted == original, "\(file)")
        }
        #expect(messages == ["downloaded " + bed.url + published.driver.source.url])
        // The generation is recorded for replay protection.
        let state = try String(contentsOfFile: bed.root + "/var/lib/kmodguard/database.json", encoding: .utf8)
        #expect(state.contains("\"generation\" : " + String(published.index.generation)))

        // Second run: the cached tarball is verified and reused, the tree extracted afresh.
        messages = []
        #expect(try client.fetch(for: kernel, modules: modules) == result)
        #expect(messages == ["reused cached " + bed.url + published.driver.source.url])
    }

    @Test func cacheDropsFilesTheIndexNoLongerNames() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        let first = try bed.publish()
        _ = try bed.client().fetch(for: kernel, modules: modules)
        let cache = bed.root + "/var/lib/kmodguard/cache/files"
        #expect(try FileManager.default.contentsOfDirectory(atPath: cache) == [first.driver.source.sha256])
        // The publisher replaces the driver by a new version with another tarball.
        var index = try bed.readIndex()
        let tarball = try Data(contentsOf: URL(fileURLWithPath: bed.database + "/" + first.driver.source.url))
        var entry = index.drivers[0]
        entry.version = "1.1"
        entry.source = try bed.addFile("sources/other.tar.gz", Array(tarball) + Array(repeating: 0, count: 512))
        index.drivers = [entry]
        index.generation += 1
        try bed.writeIndex(index)
        #expect(try bed.client().fetch(for: kernel, modules: modules).driver == "kmodguard-fixture-1.1")
        #expect(try FileManager.default.contentsOfDirectory(atPath: cache) == [entry.source.sha256])
    }

    @Test(.enabled(if: DatabaseTestSupport.fixtureAvailable)) func prebuiltModuleForTheExactKernelIsPreferred() throws {
        let fixture = try #require(DatabaseTestSupport.fixtureRoot)
        let kernels = try #require(DatabaseTestSupport.fixtureKernels)
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        try linkModuleTrees(bed, fixture: fixture, kernels: [kernels.old, kernels.new])
        let module = fixture + "/lib/modules/" + kernels.old.string + "/updates/kmodguard_fixture.ko"
        let published = try bed.publish(prebuilt: [(kernels.old, module)])
        #expect(published.driver.prebuilt.keys.sorted() == [kernels.old.string])

        let result = try bed.client().fetch(for: kernels.old, modules: modules)
        guard case .prebuilt(let paths, let driver) = result else {
            Issue.record("expected prebuilt, got \(result)")
            return
        }
        #expect(driver == "kmodguard-fixture-1.0")
        let path = try #require(paths["kmodguard_fixture"])
        #expect(path.hasPrefix(bed.root + "/var/lib/kmodguard/cache/files/") && path.hasSuffix("/kmodguard_fixture.ko"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(contentsOf: URL(fileURLWithPath: module)))

        // Another kernel of the range has no prebuilt module: the source is used.
        guard case .source = try bed.client().fetch(for: kernels.new, modules: modules) else {
            Issue.record("expected the source for \(kernels.new)")
            return
        }
    }

    @Test(.enabled(if: DatabaseTestSupport.fixtureAvailable)) func prebuiltModuleWithTheWrongVermagicIsRefused() throws {
        let fixture = try #require(DatabaseTestSupport.fixtureRoot)
        let kernels = try #require(DatabaseTestSupport.fixtureKernels)
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        try linkModuleTrees(bed, fixture: fixture, kernels: [kernels.new])
        // The K_OLD build, published (carelessly) as built for K_NEW.
        let module = fixture + "/lib/modules/" + kernels.old.string + "/updates/kmodguard_fixture.ko"
        let published = try bed.publish(prebuilt: [(kernels.new, module)], checkVermagic: false)
        let url = bed.url + (published.driver.prebuilt[kernels.new.string]?["kmodguard_fixture"]?.url ?? "?")
        let error = expectFailure(bed, check: "vermagic", url: url) { () throws(DatabaseError) in
            try bed.client().fetch(for: kernels.new, modules: modules)
        }
        #expect(error?.description.contains(kernels.old.string) == true)
    }

    @Test func fileURLsWork() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        try bed.publish()
        guard case .source(let directory, _) = try bed.client("file://" + bed.database).fetch(for: kernel, modules: modules) else {
            Issue.record("expected source")
            return
        }
        #expect(FileManager.default.fileExists(atPath: directory + "/dkms.conf"))
    }

    @Test func oneClientLoadsTheIndexOnce() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        try bed.publish()
        let client = bed.client("file://" + bed.database)
        let first = try client.loadIndex()
        try FileManager.default.removeItem(atPath: bed.database + "/index.json")
        // The same client (one `complete`) does not download it again; a new one must.
        #expect(try client.loadIndex() == first)
        #expect(client.fingerprint() == "database " + client.indexURL + " generation " + String(first.generation))
        #expect(throws: DatabaseError.self) { try bed.client("file://" + bed.database).loadIndex() }
    }

    @Test func transientFailuresAreRetried() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        // The tarball URL answers 503 twice, then serves: the third attempt succeeds.
        try bed.publish(baseURL: bed.server.base + "/flaky/2/" + bed.name + "/" + bed.name)
        guard case .source = try bed.client().fetch(for: kernel, modules: modules) else {
            Issue.record("expected source")
            return
        }
    }

    // MARK: transfer failures

    @Test func missingDatabaseIs404() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        let error = expectFailure(bed, check: "download", url: bed.url + "index.json") { () throws(DatabaseError) in
            try bed.client().fetch(for: kernel, modules: modules)
        }
        #expect(error?.description.contains("HTTP status 404") == true)
        // Not retried: a 404 will not go away.
        #expect(error?.description.contains("attempts") == false)
    }

    @Test func missingTarballIs404() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        let published = try bed.publish()
        try FileManager.default.removeItem(atPath: bed.database + "/" + published.driver.source.url)
        let error = expectFailure(bed, check: "download", url: bed.url + published.driver.source.url) { () throws(DatabaseError) in
            try bed.client().fetch(for: kernel, modules: modules)
        }
        #expect(error?.description.contains("HTTP status 404") == true)
    }

    @Test func serverErrorIsRetriedThenReported() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        try bed.publish()
        let url = bed.server.base + "/status/500/" + bed.name + "/"
        let error = expectFailure(bed, check: "download", url: url) { () throws(DatabaseError) in
            try bed.client(url).fetch(for: kernel, modules: modules)
        }
        #expect(error?.description.contains("HTTP status 500 (gave up after 3 attempts)") == true)
    }

    @Test func connectionRefused() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        let url = "https://127.0.0.1:" + String(try Self.closedPort()) + "/db/"
        let error = expectFailure(bed, check: "download", url: url) { () throws(DatabaseError) in
            try bed.client(url).fetch(for: kernel, modules: modules)
        }
        #expect(error?.description.contains("connection failed") == true)
    }

    @Test func truncatedBody() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        // The tarball URL goes through /truncate/: full Content-Length, half the body.
        let published = try bed.publish(baseURL: bed.server.base + "/truncate/" + bed.name)
        let error = expectFailure(bed, check: "download", url: published.driver.source.url) { () throws(DatabaseError) in
            try bed.client().fetch(for: kernel, modules: modules)
        }
        #expect(error?.description.contains("body truncated") == true)
    }

    @Test func slowServerTimesOut() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        let published = try bed.publish(baseURL: bed.server.base + "/slow/3/" + bed.name)
        var policy = bed.policy
        policy.totalTimeoutSeconds = 0.5
        policy.attempts = 1
        // The index itself is served at once; only the tarball is slow.
        let error = expectFailure(bed, check: "download", url: published.driver.source.url) { () throws(DatabaseError) in
            try bed.client(policy: policy).fetch(for: kernel, modules: modules)
        }
        #expect(error?.description.contains("timed out") == true)
    }

    /// A server that trickles the body is cut off by the low-speed limit, long before the total
    /// timeout (600 s by default) would end the attempt.
    @Test func tricklingServerIsCutOffByTheLowSpeedLimit() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        let published = try bed.publish(baseURL: bed.server.base + "/trickle/" + bed.name)
        var policy = bed.policy
        policy.totalTimeoutSeconds = 30
        policy.lowSpeedBytesPerSecond = 1000
        policy.lowSpeedSeconds = 1
        policy.attempts = 1
        let started = ContinuousClock.now
        let error = expectFailure(bed, check: "download", url: published.driver.source.url) { () throws(DatabaseError) in
            try bed.client(policy: policy).fetch(for: kernel, modules: modules)
        }
        #expect(error?.description.contains("too slow") == true, "\(String(describing: error))")
        #expect(error?.isTransient == true)
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    /// A redirect to a scheme redirects may not use is reported as a refused redirect (not as an
    /// unsupported URL: the configured URL was fine) and not retried.
    @Test func redirectToFileIsRefusedAsARedirect() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        try bed.publish()
        let url = bed.server.base + "/redirect/file%3A%2F%2F%2Fetc%2Fhostname/" + bed.name + "/"
        let error = expectFailure(bed, check: "download", url: url) { () throws(DatabaseError) in
            try bed.client(url).fetch(for: kernel, modules: modules)
        }
        #expect(error?.description.contains("refused a redirect to file:///etc/hostname") == true, "\(String(describing: error))")
        #expect(error?.description.contains("unsupported URL") == false)
        #expect(error?.description.contains("attempts") == false)
    }

    /// A redirect loop is not transient: one attempt (the first redirect and five more), not three.
    @Test func redirectLoopIsNotRetried() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        try bed.publish()
        let url = bed.server.base + "/loop/" + bed.name + "/"
        let error = expectFailure(bed, check: "download", url: url) { () throws(DatabaseError) in
            try bed.client(url).fetch(for: kernel, modules: modules)
        }
        #expect(error?.description.contains("redirect loop") == true, "\(String(describing: error))")
        #expect(error?.description.contains("attempts") == false)
        #expect(bed.server.requests(containing: "/loop/" + bed.name + "/").count == 6)
    }

    /// The fingerprint and the fetch of one client share one download of the index, also when it
    /// fails: a transient failure costs one round of attempts, not one per question.
    @Test func failedIndexIsNotDownloadedAgainByTheSameClient() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        let url = bed.server.base + "/status/500/" + bed.name + "/"
        let client = bed.client(url)
        #expect(client.fingerprint() == "database " + url + "index.json unavailable")
        let error = expectFailure(bed, check: "download", url: url) { () throws(DatabaseError) in
            try client.fetch(for: kernel, modules: modules)
        }
        #expect(error?.description.contains("HTTP status 500 (gave up after 3 attempts)") == true)
        #expect(client.fingerprint() == "database " + url + "index.json unavailable")
        // index.json.sig is asked first; its 500 ends the load after the policy's 3 attempts.
        #expect(bed.server.requests(containing: bed.name) == Array(repeating: "/status/500/" + bed.name + "/index.json.sig", count: 3))
    }

    /// Unreachable: the fingerprint is the generation accepted last (nothing is known to have
    /// changed); refused: a value no publication has, so a good index served again is a change.
    @Test func fingerprintWhileTheDatabaseIsDownOrRefused() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        let published = try bed.publish()
        #expect(bed.client().fingerprint() == "database " + bed.url + "index.json generation " + String(published.index.generation))

        var policy = bed.policy
        policy.attempts = 1
        let down = bed.server.base + "/status/503/" + bed.name + "/"
        #expect(bed.client(down, policy: policy).fingerprint() == "database " + down + "index.json unavailable")
        try GenerationStore(root: bed.systemRoot).record(url: down + "index.json", generation: 42, sha256: String(repeating: "0", count: 64))
        #expect(bed.client(down, policy: policy).fingerprint() == "database " + down + "index.json generation 42")

        try bed.writeIndex(try bed.readIndex(), signer: SigningKey())
        #expect(bed.client().fingerprint() == "database " + bed.url + "index.json refused (signature)")
    }

    @Test func untrustedCertificateIsRefusedAtOnce() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        try bed.publish()
        var policy = bed.policy
        policy.caFile = nil
        let error = expectFailure(bed, check: "download", url: bed.url) { () throws(DatabaseError) in
            try bed.client(policy: policy).fetch(for: kernel, modules: modules)
        }
        #expect(error?.description.contains("TLS verification failed") == true)
        #expect(error?.description.contains("attempts") == false)
    }

    // MARK: integrity

    @Test func wrongSHA256() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        let published = try bed.publish()
        try bed.corrupt(published.driver.source)
        let error = expectFailure(bed, check: "sha256", url: bed.url + published.driver.source.url) { () throws(DatabaseError) in
            try bed.client().fetch(for: kernel, modules: modules)
        }
        #expect(error?.description.contains(published.driver.source.sha256) == true)
        // The bad download is not kept in the cache.
        #expect(DatabaseTestSupport.files(under: bed.root + "/var/lib/kmodguard/cache").allSatisfy { !$0.hasSuffix(".tar.gz") })
    }

    @Test func shorterFileFailsTheSizeCheck() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        let published = try bed.publish()
        let path = bed.database + "/" + published.driver.source.url
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(bytes.count - 10).write(to: URL(fileURLWithPath: path))
        expectFailure(bed, check: "size", url: bed.url + published.driver.source.url) { () throws(DatabaseError) in
            try bed.client().fetch(for: kernel, modules: modules)
        }
    }

    @Test func longerFileIsCutOffAtTheDeclaredSize() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        let published = try bed.publish()
        let path = bed.database + "/" + published.driver.source.url
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try (bytes + Data(count: 1 << 20)).write(to: URL(fileURLWithPath: path))
        let error = expectFailure(bed, check: "download", url: bed.url + published.driver.source.url) { () throws(DatabaseError) in
            try bed.client().fetch(for: kernel, modules: modules)
        }
        #expect(error?.description.contains("larger than the " + String(bytes.count) + "-byte limit") == true)
    }

    // MARK: signature and replay

    @Test func badSignature() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        try bed.publish()
        // Point the index at another tarball digest: valid JSON, broken signature.
        let path = bed.database + "/index.json"
        var text = try String(contentsOfFile: path, encoding: .utf8)
        text = text.replacingOccurrences(of: "\"size\" : ", with: "\"size\" : 1")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let error = expectFailure(bed, check: "signature", url: bed.url + "index.json") { () throws(DatabaseError) in
            try bed.client().fetch(for: kernel, modules: modules)
        }
        #expect(error?.description.contains("does not verify with trusted key " + bed.key.publicKey.id) == true)
    }

    @Test func missingSignature() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        try bed.publish()
        try FileManager.default.removeItem(atPath: bed.database + "/index.json.sig")
        let error = expectFailure(bed, check: "signature", url: bed.url + "index.json.sig") { () throws(DatabaseError) in
            try bed.client().fetch(for: kernel, modules: modules)
        }
        #expect(error?.description.contains("the signature is missing (HTTP status 404)") == true)
    }

    @Test func unknownKey() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        let stranger = SigningKey()
        let strangerFile = bed.root + "/stranger.key"
        try Data(stranger.fileText.utf8).write(to: URL(fileURLWithPath: strangerFile))
        try bed.publish(keyFile: strangerFile)
        let error = expectFailure(bed, check: "signature", url: bed.url + "index.json") { () throws(DatabaseError) in
            try bed.client().fetch(for: kernel, modules: modules)
        }
        #expect(error?.description.contains("signed with key " + stranger.publicKey.id + ", which is not trusted") == true)
    }

    @Test func noTrustedKeys() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        try bed.publish()
        try FileManager.default.removeItem(atPath: bed.root + "/etc/kmodguard/keys/test.pub")
        expectFailure(bed, check: "trusted keys", url: bed.root + "/etc/kmodguard/keys") { () throws(DatabaseError) in
            try bed.client().fetch(for: kernel, modules: modules)
        }
    }

    @Test func replayedOlderIndexIsRefused() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        try bed.publish()
        let old = (try Data(contentsOf: URL(fileURLWithPath: bed.database + "/index.json")),
                   try Data(contentsOf: URL(fileURLWithPath: bed.database + "/index.json.sig")))
        _ = try bed.client().fetch(for: kernel, modules: modules)
        let newer = try bed.publish(version: "1.1")
        _ = try bed.client().fetch(for: kernel, modules: modules)
        // An attacker (or a stale mirror) serves the old, validly signed index again.
        try old.0.write(to: URL(fileURLWithPath: bed.database + "/index.json"))
        try old.1.write(to: URL(fileURLWithPath: bed.database + "/index.json.sig"))
        try FileManager.default.removeItem(atPath: bed.root + "/var/lib/kmodguard/sources")
        let error = expectFailure(bed, check: "replay", url: bed.url + "index.json") { () throws(DatabaseError) in
            try bed.client().fetch(for: kernel, modules: modules)
        }
        #expect(error?.description.contains("older than generation " + String(newer.index.generation)) == true)
    }

    @Test func sameGenerationWithOtherContentIsRefused() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        try bed.publish()
        _ = try bed.client().fetch(for: kernel, modules: modules)
        var index = try bed.readIndex()
        index.published = "2000-01-01T00:00:00Z"
        try bed.writeIndex(index)
        try FileManager.default.removeItem(atPath: bed.root + "/var/lib/kmodguard/sources")
        let error = expectFailure(bed, check: "replay", url: bed.url + "index.json") { () throws(DatabaseError) in
            try bed.client().fetch(for: kernel, modules: modules)
        }
        #expect(error?.description.contains("generation " + String(index.generation) + " was accepted before with different content") == true)
    }

    @Test func newerSchemaIsReportedAsSuch() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        let bytes = Array(#"{"schema": 2, "generation": 5, "drivers": []}"#.utf8)
        try FileManager.default.createDirectory(atPath: bed.database, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: bed.database + "/index.json"))
        try Data(try bed.key.sign(bytes).fileText.utf8).write(to: URL(fileURLWithPath: bed.database + "/index.json.sig"))
        let error = expectFailure(bed, check: "index", url: bed.url + "index.json") { () throws(DatabaseError) in
            try bed.client().fetch(for: kernel, modules: modules)
        }
        #expect(error?.description.contains("schema 2 is not supported") == true)
    }

    @Test func kernelOutsideEveryRangeHasNoDriver() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        try bed.publish(kernels: [DriverKernelRange(from: "6.2", before: "6.7")])
        let error = expectFailure(bed, check: "driver selection", url: bed.url + "index.json") { () throws(DatabaseError) in
            try bed.client().fetch(for: kernel, modules: modules)
        }
        #expect(error?.description.contains("kmodguard-fixture-1.0 (modules kmodguard_fixture; kernels 6.2..6.7)") == true)
    }

    // MARK: hostile tarballs (signed and hashed correctly: the extractor is the last line)

    @Test func tarballWithDotDot() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        let url = try bed.publishTarball([
            TarEntry(path: "evil-1.0/", kind: .directory, mode: 0o755),
            TarEntry(path: "evil-1.0/dkms.conf", kind: .file, data: Array("PACKAGE_NAME=evil\n".utf8)),
            TarEntry(path: "evil-1.0/../../../etc/cron.d/evil", kind: .file, data: Array("* * * * * root id\n".utf8)),
        ])
        let error = expectFailure(bed, check: "archive", url: url) { () throws(DatabaseError) in
            try bed.client().fetch(for: kernel, modules: modules)
        }
        #expect(error?.description.contains("entry 'evil-1.0/../../../etc/cron.d/evil' contains a '..' component") == true)
    }

    @Test func tarballWithAbsolutePath() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        let url = try bed.publishTarball([
            TarEntry(path: "evil-1.0/dkms.conf", kind: .file, data: Array("PACKAGE_NAME=evil\n".utf8)),
            TarEntry(path: "/tmp/kmodguard-evil", kind: .file, data: Array("owned\n".utf8)),
        ])
        let error = expectFailure(bed, check: "archive", url: url) { () throws(DatabaseError) in
            try bed.client().fetch(for: kernel, modules: modules)
        }
        #expect(error?.description.contains("entry '/tmp/kmodguard-evil' is an absolute path") == true)
        #expect(!FileManager.default.fileExists(atPath: "/tmp/kmodguard-evil"))
    }

    @Test func tarballWithSymlinkEscape() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        let url = try bed.publishTarball([
            TarEntry(path: "evil-1.0/dkms.conf", kind: .file, data: Array("PACKAGE_NAME=evil\n".utf8)),
            TarEntry(path: "evil-1.0/etc", kind: .symlink(target: "../../../../../../etc"), mode: 0o777),
            TarEntry(path: "evil-1.0/etc/kmodguard-evil", kind: .file, data: Array("owned\n".utf8)),
        ])
        let error = expectFailure(bed, check: "archive", url: url) { () throws(DatabaseError) in
            try bed.client().fetch(for: kernel, modules: modules)
        }
        // Whichever is found first, the link or the write through it, it is refused.
        #expect(error?.description.contains("symlink") == true)
        #expect(!FileManager.default.fileExists(atPath: "/etc/kmodguard-evil"))
    }

    @Test func oversizeTarball() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        let url = try bed.publishTarball([
            TarEntry(path: "evil-1.0/dkms.conf", kind: .file, data: Array("PACKAGE_NAME=evil\n".utf8)),
            TarEntry(path: "evil-1.0/zeros", kind: .file, data: [UInt8](repeating: 0, count: 4 << 20)),
        ])
        var client = bed.client()
        client.limits.totalBytes = 1 << 20
        let error = expectFailure(bed, check: "archive", url: url) { () throws(DatabaseError) in
            try client.fetch(for: kernel, modules: modules)
        }
        #expect(error?.description.contains("more than " + String(1 << 20)) == true)
    }

    @Test func tooManyEntries() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        let entries = (0..<50).map { TarEntry(path: "evil-1.0/f" + String($0), kind: .file, data: [1]) }
        let url = try bed.publishTarball([TarEntry(path: "evil-1.0/dkms.conf", kind: .file, data: [1])] + entries)
        var client = bed.client()
        client.limits.entries = 20
        let error = expectFailure(bed, check: "archive", url: url) { () throws(DatabaseError) in
            try client.fetch(for: kernel, modules: modules)
        }
        #expect(error?.description.contains("more than 20 entries") == true)
    }

    // MARK: helpers

    /// The kernels' module trees of the fixture root, symlinked into the test root, so the
    /// vermagic check compares with a real in-tree module.
    func linkModuleTrees(_ bed: DatabaseTestBed, fixture: String, kernels: [KernelRelease]) throws {
        try FileManager.default.createDirectory(atPath: bed.root + "/lib/modules", withIntermediateDirectories: true)
        for kernel in kernels {
            try FileManager.default.createSymbolicLink(atPath: bed.root + "/lib/modules/" + kernel.string,
                                                       withDestinationPath: fixture + "/lib/modules/" + kernel.string)
        }
    }

    /// A loopback port nothing listens on (bound, then closed).
    static func closedPort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw DatabaseTestFailure("socket failed") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0 }
        }
        guard bound else { throw DatabaseTestFailure("bind failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
