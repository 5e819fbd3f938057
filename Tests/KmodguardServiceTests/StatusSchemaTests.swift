import Foundation
@testable import KmodguardService
import KmodguardCompletion
import KmodguardCore
import KmodguardSystem
import Testing

/// `status --json` in every state the product reaches, against docs/status.schema.json. Each
/// machine is a boot's leftovers; `complete` (with scripted build results) runs on it and the
/// report is taken before and after every run, so most states are the product's own output.
/// Here: the code's property names and enums against the schema's, and every enum value
/// reached by some machine. With KMODGUARD_STATUS_SAMPLES=DIR every document is also written
/// to DIR (with its Prometheus metrics), where scripts/test-status-schema validates it with a
/// real JSON Schema validator and node_exporter's textfile collector.
@Suite struct StatusSchemaTests {
    static let old = KernelRelease("6.1.0-55-cloud-amd64")!
    static let new = KernelRelease("6.1.0-56-cloud-amd64")!
    static var oldEntry: String { CompletionRunTests().oldEntry }

    /// What a boot left behind, and how `complete` fares on it.
    struct Machine: Sendable, CustomTestStringConvertible {
        var name: String
        var modules = "virtio_blk"
        var running = StatusSchemaTests.old
        var verdict: String? = "passed"
        var newHasDriver = false
        var activate = "reboot"
        /// grubenv assignments; nil: grubenv missing.
        var grubenv: [String]? = []
        /// The state.json record of the new kernel's last attempt.
        var recorded: String?
        var stale = false
        var menuEmpty = false
        var mountinfo: String?
        /// The new kernel's build; nil: it builds and installs.
        var driver: DriverOutcome?
        var initramfs: InitramfsOutcome = .verified(image: "/boot/initrd.img-6.1.0-56-cloud-amd64")
        var runs = 1

        var testDescription: String { name }
    }

    static let machines: [Machine] = [
        Machine(name: "ok", running: new, newHasDriver: true, grubenv: ["kmodguard_last_good=\(old)"]),
        Machine(name: "nothing-guarded", modules: "", newHasDriver: true),
        Machine(name: "new-kernel-built-reboot"),
        Machine(name: "pending-activation-next-boot", activate: "next-boot"),
        Machine(name: "pending-activation-none", activate: "none"),
        Machine(name: "failed-build", driver: .failed(message: "make exited with status 2", firstError: "virtio_blk.c:10:1: error: expected ';'",
                                                      log: "/var/lib/kmodguard/logs/6.1.0-56-cloud-amd64.log"), runs: 2),
        Machine(name: "database-refused", driver: .failed(message: "driver database: index.json.sig: no trusted key verifies it", firstError: nil, log: nil)),
        Machine(name: "headers-missing", driver: .headersMissing(package: "linux-headers-6.1.0-56-cloud-amd64")),
        Machine(name: "download-failed", driver: .unavailable(message: "driver database: http://db.example/sources/virtio_blk.tar.gz: download failed: HTTP status 500 (gave up after 4 attempts)")),
        Machine(name: "excluded", driver: .excluded("BUILD_EXCLUSIVE_KERNEL=^5 does not match 6.1.0-56-cloud-amd64")),
        Machine(name: "initramfs-failed", initramfs: .failed(message: "mkinitramfs exited with status 1", log: "/var/lib/kmodguard/logs/initramfs.log")),
        Machine(name: "boot-full", initramfs: .failed(
            message: "no room for 6.1.0-56-cloud-amd64's new initramfs: /boot has 1048576 bytes free (1.0 MiB), about 33554432 bytes (32.0 MiB) are needed",
            log: nil), runs: 2),
        Machine(name: "initramfs-skipped", initramfs: .skipped("no initramfs generator")),
        Machine(name: "driver-vanished", recorded: "initramfs"),
        Machine(name: "guard-fallback-pending", grubenv: ["kmodguard_failed=\(new)", "kmodguard_reason=virtio_blk: not found", "kmodguard_attempts=1"]),
        Machine(name: "fallback-with-driver-pinned", newHasDriver: true,
                grubenv: ["kmodguard_failed=\(new)", "kmodguard_reason=device UUID=0b6f did not appear within 30s"]),
        Machine(name: "stale-initramfs", newHasDriver: true, grubenv: ["kmodguard_failed=\(new)", "kmodguard_reason=virtio_blk: not found"],
                recorded: "installed", stale: true),
        Machine(name: "trial-armed", newHasDriver: true, grubenv: ["kmodguard_trial=armed", "kmodguard_trial_kernel=\(new)"]),
        Machine(name: "trial-consumed-never-blessed", newHasDriver: true, grubenv: ["kmodguard_trial=consumed", "kmodguard_trial_kernel=\(new)"]),
        Machine(name: "trial-consumed-blessed", running: new, newHasDriver: true,
                grubenv: ["kmodguard_trial=consumed", "kmodguard_trial_kernel=\(new)", "kmodguard_last_good=\(old)"]),
        Machine(name: "trial-failed-grub-fell-back", newHasDriver: true,
                grubenv: ["kmodguard_trial=failed", "kmodguard_trial_kernel=\(new)", "kmodguard_grub_fallback=\(oldEntry)"], recorded: "initramfs"),
        Machine(name: "guard-gave-up", running: new, verdict: "gave-up", grubenv: ["kmodguard_attempts=4"]),
        Machine(name: "guard-fallback-scheduled", running: new, verdict: "fallback-scheduled"),
        Machine(name: "guard-grubenv-unreachable", running: new, verdict: "grubenv-unreachable"),
        Machine(name: "guard-config-invalid", running: new, verdict: "config-invalid", newHasDriver: true),
        Machine(name: "no-guard-verdict", verdict: nil, newHasDriver: true),
        Machine(name: "grubenv-missing-no-menu", newHasDriver: true, grubenv: nil, menuEmpty: true),
        Machine(name: "grubenv-on-btrfs", newHasDriver: true, mountinfo: "29 1 0:26 / / rw,relatime shared:1 - btrfs /dev/vda1 rw,space_cache=v2\n"),
        Machine(name: "pin-names-no-entry", newHasDriver: true, grubenv: ["kmodguard_pin=gnulinux-advanced-gone>gnulinux-5.10.0-9-amd64-advanced-gone"]),
    ]

    /// One `status --json` document, named for the machine and the moment.
    struct Sample {
        var name: String
        var report: StatusReport
        var json: String
    }

    /// The reports of `machine`: before the first `complete` and after each run.
    static func samples(_ machine: Machine) throws -> [Sample] {
        var config = try GuardConfig.parse(Array("MODULES=\"\(machine.modules)\"\nACTIVATE=\(machine.activate)\n".utf8), file: "test.conf")
        config.source = "/usr/src/virtio_blk-6.1.192"
        var block: GrubEnvBlock?
        if let assignments = machine.grubenv {
            var loaded = GrubEnvBlock()
            try loaded.apply(assignments: assignments)
            block = loaded
        }
        var state = PersistentState()
        if let recorded = machine.recorded {
            state.kernels[new.string] = .init(state: recorded, fingerprint: nil, driver: "virtio_blk-6.1.192", firstError: nil, log: nil,
                                              message: nil, updated: "2026-11-24T23:00:00Z")
        }
        var steps = CompletionRunTests.FakeSteps()
        steps.initramfs = machine.initramfs
        if let driver = machine.driver { steps.driver[new] = driver }
        var newHasDriver = machine.newHasDriver
        var stale = machine.stale
        let mountinfo = machine.mountinfo.map { Array($0.utf8) }
        let modules = config.modules

        func snapshot() -> SystemSnapshot {
            SystemSnapshot(
                root: SystemRoot("/nonexistent-root"), config: config, configBytes: Array(machine.modules.utf8), running: machine.running,
                guardVerdict: machine.verdict, grubenvPath: "/nonexistent-root/boot/grub/grubenv", grubenv: block,
                grubenvProblem: block == nil ? "open /nonexistent-root/boot/grub/grubenv: No such file or directory (errno 2)" : nil,
                menu: machine.menuEmpty ? GrubMenu(entries: []) : CompletionRunTests().menu(),
                grubConfigPath: "/nonexistent-root/boot/grub/grub.cfg", kernels: [new, old],
                availability: [old: .resolved, new: newHasDriver || modules.isEmpty ? .resolved : .unresolved(modules)],
                staleInitramfs: stale ? [new] : [],
                grubenvMount: mountinfo.flatMap { MountInfo.containing("/nonexistent-root/boot/grub/grubenv", mountinfo: $0) })
        }
        func sample(_ moment: String) throws -> Sample {
            let report = StatusReport.make(snapshot: snapshot(), state: state)
            return Sample(name: machine.name + "-" + moment, report: report, json: try report.json())
        }

        var result = [try sample("before")]
        for index in 1...machine.runs {
            var run = CompletionRun(steps: steps, snapshot: snapshot(), state: state, now: "2026-11-25T00:00:0\(index)Z")
            run.perform()
            steps = run.steps
            state = run.state
            var changed = block ?? GrubEnvBlock()
            try changed.apply(run.grubChanges)
            block = changed
            // What the run left on disk: an installed driver resolves, a rebuilt image is fresh.
            if run.steps.built.contains(new), steps.driver[new] == nil { newHasDriver = true }
            if run.steps.rebuilt.contains(new) {
                // A failed rebuild leaves the old image: older than the installed driver.
                if case .verified = steps.initramfs { stale = false } else if newHasDriver { stale = true }
            }
            result.append(try sample("after-complete-\(index)"))
        }
        return result
    }

    static func allSamples() throws -> [Sample] { try machines.flatMap(samples) }

    // MARK: the schema

    static let schemaURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/status.schema.json")

    static func schema() throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: schemaURL)) as? [String: Any])
    }

    /// The object at a `/`-separated path of keys in `object`.
    static func node(_ object: [String: Any], _ path: String) throws -> [String: Any] {
        var current = object
        for key in path.split(separator: "/") {
            current = try #require(current[String(key)] as? [String: Any], "schema has no \(path)")
        }
        return current
    }

    /// The `enum` of the schema node at `path`, nulls as nil.
    static func enumeration(_ path: String) throws -> [String?] {
        let values = try #require(try node(schema(), path)["enum"] as? [Any], "no enum at \(path)")
        return values.map { $0 as? String }
    }

    static func required(_ path: String) throws -> Set<String> {
        let object = path.isEmpty ? try schema() : try node(schema(), path)
        return Set(try #require(object["required"] as? [String], "no required at \(path)"))
    }

    @Test(arguments: machines)
    func everyPropertyIsPresentAndKnown(machine: Machine) throws {
        let top = try Self.required("")
        let kernel = try Self.required("$defs/kernel")
        let fallback = try Self.required("$defs/fallback")
        let driverStates = try Self.enumeration("$defs/driverState")
        let directory = ProcessInfo.processInfo.environment["KMODGUARD_STATUS_SAMPLES"]
        for sample in try Self.samples(machine) {
            let document = try #require(try JSONSerialization.jsonObject(with: Data(sample.json.utf8)) as? [String: Any])
            // Absent and null differ for a schema: optional fields must be written as null.
            #expect(Set(document.keys) == top, "\(sample.name)")
            #expect(document["schemaVersion"] as? Int == StatusReport.currentSchemaVersion)
            for entry in try #require(document["kernels"] as? [[String: Any]]) {
                #expect(Set(entry.keys) == kernel, "\(sample.name)")
                #expect(driverStates.contains(entry["driver"] as? String), "\(sample.name): \(String(describing: entry["driver"]))")
            }
            for key in ["lastFallback", "pendingFallback"] {
                if let record = document[key] as? [String: Any] { #expect(Set(record.keys) == fallback, "\(sample.name): \(key)") }
            }
            // The report reads back unchanged: no field is written in a form it cannot take.
            #expect(try JSONDecoder().decode(StatusReport.self, from: Data(sample.json.utf8)) == sample.report)
            if let directory {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                try Data((sample.json + "\n").utf8).write(to: URL(fileURLWithPath: directory + "/" + sample.name + ".json"))
                // The same facts as `complete` writes them, for node_exporter's own parser.
                let metrics = sample.report.metrics(lastRunSeconds: 1_795_000_000).prometheusText
                try Data(metrics.utf8).write(to: URL(fileURLWithPath: directory + "/" + sample.name + ".prom"))
            }
        }
    }

    /// Issue 13, boot-full: the driver got installed, the initramfs could not be rebuilt: status
    /// says the kernel cannot boot yet and why (bytes needed and free), not "installed".
    @Test func aDriverMissingFromItsInitramfsIsNotOk() throws {
        let machine = try #require(Self.machines.first { $0.name == "boot-full" })
        let samples = try Self.samples(machine)
        for sample in samples.dropFirst() {
            let report = sample.report
            let kernel = try #require(report.kernels.first { $0.release == Self.new.string })
            #expect(kernel.driver == .failed, "\(sample.name)")
            #expect(kernel.inInitramfs == false)
            #expect(kernel.missingModules == [])
            #expect(kernel.message?.contains("/boot has 1048576 bytes free (1.0 MiB), about 33554432 bytes") == true)
            #expect(!report.ok)
            #expect(report.pin == Self.oldEntry)
            #expect(report.summary.hasPrefix("ATTENTION: 6.1.0-56-cloud-amd64's driver is installed but not in its initramfs (initramfs: no room for"))
            #expect(report.text.contains("      initramfs: no room for 6.1.0-56-cloud-amd64's new initramfs: /boot has 1048576 bytes free"))
        }
    }

    @Test func schemaPropertiesAreTheRequiredOnes() throws {
        for path in ["", "$defs/kernel", "$defs/fallback"] {
            let object = path.isEmpty ? try Self.schema() : try Self.node(Self.schema(), path)
            let properties = try #require(object["properties"] as? [String: Any])
            #expect(Set(properties.keys) == (try Self.required(path)), "\(path)")
            #expect(object["additionalProperties"] as? Bool == false, "\(path)")
        }
        #expect(try Self.node(Self.schema(), "properties/schemaVersion")["const"] as? Int == StatusReport.currentSchemaVersion)
    }

    @Test func enumsAreTheCodes() throws {
        #expect(try Self.enumeration("$defs/driverState") == DriverState.allCases.map(\.rawValue))
        #expect(try Self.enumeration("properties/trial") == TrialState.allCases.map(\.rawValue) + [nil])
        #expect(try Self.enumeration("$defs/fallback/properties/source") == FallbackEvent.Source.allCases.map(\.rawValue))
        #expect(try Self.enumeration("properties/guardResult") == Self.guardOutcomes.map(\.name) + [nil])
    }

    /// One of each outcome kmodguard-early records; `exhaustive` stops compiling when a case is
    /// added, so the schema's guardResult enum cannot silently fall behind.
    static let guardOutcomes: [GuardOutcome] = [.passed, .fallbackScheduled(old), .gaveUp(.noCandidate), .grubenvUnreachable, .configInvalid]
    static func exhaustive(_ outcome: GuardOutcome) -> Int {
        switch outcome {
        case .passed: 0
        case .fallbackScheduled: 1
        case .gaveUp: 2
        case .grubenvUnreachable: 3
        case .configInvalid: 4
        }
    }

    @Test func guardOutcomeListIsComplete() {
        #expect(Self.guardOutcomes.map(Self.exhaustive) == Array(0..<Self.guardOutcomes.count))
    }

    /// The machines reach every value the schema names, so the validator sees each of them.
    @Test func machinesReachEveryState() throws {
        let reports = try Self.allSamples().map(\.report)
        #expect(Set(reports.flatMap { $0.kernels.map(\.driver) }) == Set(DriverState.allCases))
        #expect(Set(reports.map(\.trial)) == Set(TrialState.allCases.map(\.rawValue) + [nil]))
        #expect(Set(reports.map(\.guardResult)) == Set(Self.guardOutcomes.map(\.name) + [nil]))
        #expect(Set(reports.compactMap { $0.lastFallback?.source }) == Set(FallbackEvent.Source.allCases.map(\.rawValue)))
        #expect(reports.contains { $0.pendingFallback != nil })
        #expect(Set(reports.map(\.ok)) == [true, false])
        #expect(reports.contains { $0.pin != nil } && reports.contains { $0.pin == nil })
        #expect(reports.contains { !$0.warnings.isEmpty })
        #expect(reports.contains { report in report.kernels.contains { $0.inInitramfs == true } })
        for prefix in ["OK: ", "ATTENTION: ", "nothing guarded: "] {
            #expect(reports.contains { $0.summary.hasPrefix(prefix) }, "\(prefix)")
        }
        // Pending activation: the default kernel got its driver but is not running.
        #expect(reports.contains { report in report.ok && report.kernels.contains { $0.isDefault && !$0.running } && report.trial == "armed" })
    }
}
