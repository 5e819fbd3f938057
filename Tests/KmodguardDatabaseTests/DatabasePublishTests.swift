import Foundation
import KmodguardCompletion
import KmodguardCore
@testable import KmodguardDatabase
import KmodguardTestSupport
import Testing

/// `kmodguard publish`: the tree it writes, reproducibility, updates, and refusals.
@Suite struct DatabasePublishTests {
    @Test func writesASignedTreeWithAReproducibleTarball() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        let first = try bed.publish()
        #expect(first.driver.identity == "kmodguard-fixture-1.0")
        #expect(first.driver.modules == ["kmodguard_fixture"])
        #expect(first.driver.kernels.isEmpty)
        #expect(first.driver.source.url.hasPrefix("sources/kmodguard-fixture-1.0-") && first.driver.source.url.hasSuffix(".tar.gz"))
        // The index on disk verifies with the trusted key and decodes to what publish returned.
        let ring = try KeyRing.load(root: bed.systemRoot)
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: bed.database + "/index.json")))
        let signature = try IndexSignature.parse(Array(try Data(contentsOf: URL(fileURLWithPath: bed.database + "/index.json.sig"))), url: "sig")
        try ring.verify(signature, of: bytes, url: "index")
        #expect(try bed.readIndex() == first.index)
        // GNU tar reads the tarball: one NAME-VERSION directory with the sources.
        let scratch = DatabaseTestSupport.temporaryDirectory("gnutar")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try DatabaseTestSupport.run("/bin/tar", ["-xzf", bed.database + "/" + first.driver.source.url, "-C", scratch])
        #expect(DatabaseTestSupport.files(under: scratch) == ["kmodguard-fixture-1.0", "kmodguard-fixture-1.0/Makefile",
                                                              "kmodguard-fixture-1.0/dkms.conf", "kmodguard-fixture-1.0/kmodguard_fixture.c"])

        // Publishing the same tree again: same tarball, higher generation.
        let second = try bed.publish()
        #expect(second.driver.source == first.driver.source)
        #expect(second.index.generation > first.index.generation)
        #expect(second.index.drivers.count == 1)
    }

    @Test func baseURLMakesAbsoluteURLs() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        let result = try bed.publish(baseURL: "https://mirror.example/kmodguard/")
        #expect(result.driver.source.url.hasPrefix("https://mirror.example/kmodguard/sources/kmodguard-fixture-1.0-"))
    }

    @Test func versionsAccumulateAndTheNewestIsSelected() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        try bed.publish(version: "1.10")
        try bed.publish(kernels: [DriverKernelRange(from: "6.1", before: "6.2")], version: "1.9")
        let index = try bed.readIndex()
        #expect(index.drivers.map(\.version) == ["1.9", "1.10"])
        let kernel = KernelRelease("6.1.0-56-cloud-amd64")!
        #expect(index.select(kernel: kernel, modules: ["kmodguard_fixture"])?.driver.version == "1.10")
    }

    @Test(.enabled(if: DatabaseTestSupport.fixtureAvailable)) func prebuiltModulesStayWhileTheSourceIsUnchanged() throws {
        let fixture = try #require(DatabaseTestSupport.fixtureRoot)
        let kernels = try #require(DatabaseTestSupport.fixtureKernels)
        let module = fixture + "/lib/modules/" + kernels.old.string + "/updates/kmodguard_fixture.ko"
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        let first = try bed.publish(prebuilt: [(kernels.old, module)])
        let artifact = try #require(first.driver.prebuilt[kernels.old.string]?["kmodguard_fixture"])
        #expect(artifact.url.hasPrefix("prebuilt/" + kernels.old.string + "/kmodguard_fixture-"))
        #expect(FileManager.default.fileExists(atPath: bed.database + "/" + artifact.url))
        // Republishing the same source without modules keeps them.
        #expect(try bed.publish().driver.prebuilt[kernels.old.string]?["kmodguard_fixture"] == artifact)

        // A module built for another kernel than claimed is refused at publish time.
        #expect { try bed.publish(prebuilt: [(kernels.new, module)]) } throws: {
            ($0 as? DatabaseError)?.description.contains("vermagic check failed") == true
        }
    }

    @Test func refusesToExtendADatabaseSignedByAnotherKey() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        try bed.publish()
        let other = bed.root + "/other.key"
        try Data(SigningKey().fileText.utf8).write(to: URL(fileURLWithPath: other))
        #expect { try bed.publish(keyFile: other) } throws: {
            ($0 as? DatabaseError)?.description.contains("is not signed by the publishing key") == true
        }
    }

    @Test func prebuiltModuleMustBeOneOfTheDriversModules() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        let scratch = DatabaseTestSupport.temporaryDirectory("ko")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        _ = FileManager.default.createFile(atPath: scratch + "/other.ko", contents: Data([0x7F]))
        #expect { try bed.publish(prebuilt: [(KernelRelease("6.1.0-55-cloud-amd64")!, scratch + "/other.ko")]) } throws: {
            ($0 as? DatabaseError)?.description.contains("other is not one of the driver's modules (kmodguard_fixture)") == true
        }
    }
}
