import Foundation
@testable import kmodguard
import KmodguardCompletion
import KmodguardCore
import KmodguardDatabase
import KmodguardTestSupport
import Testing

/// `kmodguard keygen` and `kmodguard publish` from their command lines.
@Suite struct DatabaseCommandTests {
    @Test func keygenCommandLine() throws {
        let directory = DatabaseTestSupport.temporaryDirectory("keys")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let command = try KeygenCommand.parse(["--out", directory])
        try command.run()
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["kmodguard-database.key", "kmodguard-database.pub"])
    }

    @Test func publishCommandLine() throws {
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        let command = try PublishCommand.parse(["--source", DatabaseTestSupport.fixtureSource, "--key", bed.writeKey(), "--out", bed.database,
                                                "--kernels", "6.1..6.2", "--driver-version", "2.0", "--root", bed.root])
        try command.run()
        let driver = try #require(try bed.readIndex().drivers.first)
        #expect(driver.identity == "kmodguard-fixture-2.0" && driver.kernels == [DriverKernelRange(from: "6.1", before: "6.2")])
        #expect(throws: (any Error).self) { try PublishCommand.parse(["--source", "s", "--key", "k", "--out", "o", "--kernels", "6.2..6.1"]).run() }
        #expect(throws: (any Error).self) { try PublishCommand.parse(["--source", "s", "--key", "k", "--out", "o", "--prebuilt-module", "x.ko"]).run() }
    }

    /// `--prebuilt KVER` compiles through the driver builder (real kernel headers), then the
    /// client installs that module for exactly that kernel.
    @Test(.enabled(if: DatabaseTestSupport.fixtureAvailable)) func prebuiltBuildsWithTheDriverBuilder() throws {
        let fixture = try #require(DatabaseTestSupport.fixtureRoot)
        let kernels = try #require(DatabaseTestSupport.fixtureKernels)
        let bed = try DatabaseTestBed()
        defer { bed.remove() }
        try FileManager.default.createDirectory(atPath: bed.root + "/lib/modules", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: bed.root + "/lib/modules/" + kernels.old.string,
                                                   withDestinationPath: fixture + "/lib/modules/" + kernels.old.string)
        guard FileManager.default.fileExists(atPath: bed.root + "/lib/modules/" + kernels.old.string + "/build/Makefile") else {
            #expect(!DatabaseTestSupport.required, "no kernel headers for \(kernels.old)")
            return
        }
        let command = try PublishCommand.parse(["--source", DatabaseTestSupport.fixtureSource, "--key", bed.writeKey(), "--out", bed.database,
                                                "--prebuilt", kernels.old.string, "--root", bed.root])
        try command.run()
        let driver = try #require(try bed.readIndex().drivers.first)
        #expect(driver.prebuilt.keys.sorted() == [kernels.old.string])
        guard case .prebuilt(let paths, _) = try bed.client().fetch(for: kernels.old, modules: ["kmodguard_fixture"]) else {
            Issue.record("expected the prebuilt module")
            return
        }
        #expect(paths.keys.sorted() == ["kmodguard_fixture"])
    }
}
