import Foundation
import KmodguardBuilder
import KmodguardCore
@testable import KmodguardDatabase
import KmodguardTestSupport
import Testing

/// Prebuilt versus compile, for the out-of-tree virtio_blk on one real kernel: the time from
/// "the database has it" to "a verified .ko is on disk" both ways (installing and depmod are
/// the same for both and left out). Runs when scripts/test-database names the source tree
/// (`KMODGUARD_VIRTIO_SOURCE`, from scripts/driver-sources) and the fixture root is there.
@Suite struct DatabaseBenchmarkTests {
    static let source = ProcessInfo.processInfo.environment["KMODGUARD_VIRTIO_SOURCE"] ?? ""
    static var enabled: Bool { !source.isEmpty && DatabaseTestSupport.fixtureRoot != nil }

    @Test(.enabled(if: enabled)) func prebuiltVersusCompileForVirtioBlk() throws {
        let fixture = try #require(DatabaseTestSupport.fixtureRoot)
        let kernel = try #require(DatabaseTestSupport.fixtureKernels).old
        let publisherBed = try DatabaseTestBed()
        defer { publisherBed.remove() }
        try FileManager.default.createDirectory(atPath: publisherBed.root + "/lib/modules", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: publisherBed.root + "/lib/modules/" + kernel.string,
                                                   withDestinationPath: fixture + "/lib/modules/" + kernel.string)
        // The publisher builds once (timed: that is what every machine would do without the database).
        var request = PublishRequest(source: Self.source, keyFile: publisherBed.writeKey(), output: publisherBed.database)
        request.buildFor = [kernel]
        var publisher = Publisher(root: publisherBed.systemRoot)
        publisher.build = Publisher.driverBuilder(root: publisherBed.systemRoot)
        let published = try publisher.publish(request)
        #expect(published.driver.prebuilt[kernel.string]?.keys.sorted() == ["virtio_blk"])

        // A fleet machine with the prebuilt module for its kernel: download, SHA-256, vermagic.
        var start = Date()
        guard case .prebuilt(let paths, _) = try publisherBed.client().fetch(for: kernel, modules: ["virtio_blk"]) else {
            Issue.record("expected prebuilt")
            return
        }
        let prebuilt = Date().timeIntervalSince(start)
        #expect(paths["virtio_blk"] != nil)

        // A machine whose kernel has no prebuilt module: download the source, extract, compile.
        var index = try publisherBed.readIndex()
        index.drivers[0].prebuilt = [:]
        index.generation += 1
        try publisherBed.writeIndex(index)
        start = Date()
        guard case .source(let directory, _) = try publisherBed.client().fetch(for: kernel, modules: ["virtio_blk"]) else {
            Issue.record("expected source")
            return
        }
        let fetched = Date().timeIntervalSince(start)
        let output = try DriverBuilder(root: publisherBed.systemRoot).build(try DriverSource.locate(directory), for: kernel)
        let compiled = Date().timeIntervalSince(start)
        #expect(output.modules.map(\.name) == ["virtio_blk"])

        let line = String(format: "virtio_blk on %@: prebuilt %.3f s, source %.3f s (download+extract %.3f s, build %.2f s), ratio 1:%.0f",
                          kernel.string, prebuilt, compiled, fetched, output.seconds, compiled / prebuilt)
        print(line)
        if let file = ProcessInfo.processInfo.environment["KMODGUARD_DATABASE_BENCH_OUT"] {
            try Data((line + "\n").utf8).write(to: URL(fileURLWithPath: file))
        }
    }
}
