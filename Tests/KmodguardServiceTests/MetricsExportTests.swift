import Foundation
@testable import KmodguardService
import KmodguardCompletion
import KmodguardCore
import Testing

/// Where `complete` writes its metrics, and how.
@Suite struct MetricsExportTests {
    static let root = SystemRoot("/scratch")
    static let exporterDirectory = "/scratch/var/lib/prometheus/node-exporter"

    @Test(arguments: [
        (MetricsFile.automatic, true, "/scratch/var/lib/prometheus/node-exporter/kmodguard.prom" as String?),
        (.automatic, false, nil),
        (.path("/srv/metrics/kmodguard.prom"), false, "/scratch/srv/metrics/kmodguard.prom"),
        (.disabled, true, nil),
    ])
    func destination(setting: MetricsFile, exporterInstalled: Bool, want: String?) {
        let found = MetricsExport.destination(setting, root: Self.root) { $0 == Self.exporterDirectory && exporterInstalled }
        #expect(found == want)
    }

    @Test func writeCreatesAnExplicitDirectoryAndLeavesNoTemporaryFile() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("kmodguard-metrics-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let path = scratch + "/textfile/kmodguard.prom"
        let report = StatusReport(ok: false, summary: "ATTENTION: …", runningKernel: "6.1.0-55-cloud-amd64", guardedModules: ["virtio_blk"],
                                  guardResult: "passed", lastGood: nil, pin: "adv>gnulinux-6.1.0-55", trial: nil, trialKernel: nil,
                                  lastFallback: .init(source: "guard", failedKernel: "6.1.0-56-cloud-amd64", reason: "virtio_blk: not found",
                                                      recorded: "2026-11-25T00:00:00Z"),
                                  pendingFallback: nil, kernels: [], warnings: [])
        #expect(MetricsExport.write(report, to: path, now: Date(timeIntervalSince1970: 1_795_000_000)) == nil)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text == report.metrics(lastRunSeconds: 1_795_000_000).prometheusText)
        #expect(text.contains("kmodguard_pinned 1\n"))
        #expect(text.contains("kmodguard_last_fallback_timestamp_seconds 1795564800\n"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch + "/textfile") == ["kmodguard.prom"])
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        #expect(mode & 0o044 == 0o044, "the exporter's user must read it")
    }
}
