import Foundation
package import KmodguardCompletion
import KmodguardCore
import KmodguardSystem

/// The answer of `kmodguard status`, also its `--json` form: a public contract described by
/// docs/status.schema.json, so every field is always present (null when unknown) and
/// `schemaVersion` says which version of that schema the output follows.
package struct StatusReport: Codable, Equatable {
    /// Raised when a field is removed or renamed or changes its type or meaning; a new field or
    /// a new enum value is announced in the schema without raising it.
    package static let currentSchemaVersion = 1

    package struct Kernel: Codable, Equatable {
        package var release: String
        package var driver: DriverState
        package var missingModules: [String]
        /// Whether the verified initramfs holds the driver (nil: not checked).
        package var inInitramfs: Bool?
        package var firstError: String?
        package var log: String?
        package var message: String?
        package var running: Bool
        package var isDefault: Bool

        package func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(release, forKey: .release)
            try container.encode(driver, forKey: .driver)
            try container.encode(missingModules, forKey: .missingModules)
            try container.encode(inInitramfs, forKey: .inInitramfs)
            try container.encode(firstError, forKey: .firstError)
            try container.encode(log, forKey: .log)
            try container.encode(message, forKey: .message)
            try container.encode(running, forKey: .running)
            try container.encode(isDefault, forKey: .isDefault)
        }
    }

    /// A boot that did not reach its kernel: status's own view of a history record, so the
    /// schema does not follow state.json's internals.
    package struct Fallback: Codable, Equatable {
        /// `guard`, `trial` or `grub` (`FallbackEvent.Source`).
        package var source: String
        package var failedKernel: String?
        package var reason: String
        /// When it was recorded (ISO 8601), or `pending` while it is still only in grubenv.
        package var recorded: String

        package init(source: String, failedKernel: String?, reason: String, recorded: String) {
            self.source = source
            self.failedKernel = failedKernel
            self.reason = reason
            self.recorded = recorded
        }

        package init(_ record: PersistentState.HistoryRecord) {
            self.init(source: record.source, failedKernel: record.failedKernel, reason: record.reason, recorded: record.recorded)
        }

        package func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(source, forKey: .source)
            try container.encode(failedKernel, forKey: .failedKernel)
            try container.encode(reason, forKey: .reason)
            try container.encode(recorded, forKey: .recorded)
        }
    }

    package var schemaVersion = StatusReport.currentSchemaVersion
    package var ok: Bool
    package var summary: String
    package var runningKernel: String
    package var guardedModules: [String]
    package var guardResult: String?
    package var lastGood: String?
    package var pin: String?
    package var trial: String?
    package var trialKernel: String?
    package var lastFallback: Fallback?
    package var pendingFallback: Fallback?
    package var kernels: [Kernel]
    package var warnings: [String]

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(schemaVersion, forKey: .schemaVersion)
        try container.encode(ok, forKey: .ok)
        try container.encode(summary, forKey: .summary)
        try container.encode(runningKernel, forKey: .runningKernel)
        try container.encode(guardedModules, forKey: .guardedModules)
        try container.encode(guardResult, forKey: .guardResult)
        try container.encode(lastGood, forKey: .lastGood)
        try container.encode(pin, forKey: .pin)
        try container.encode(trial, forKey: .trial)
        try container.encode(trialKernel, forKey: .trialKernel)
        try container.encode(lastFallback, forKey: .lastFallback)
        try container.encode(pendingFallback, forKey: .pendingFallback)
        try container.encode(kernels, forKey: .kernels)
        try container.encode(warnings, forKey: .warnings)
    }

    /// `status --json`: pretty-printed, keys sorted, paths without escaped slashes.
    package func json() throws(EncodingError) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            return String(decoding: try encoder.encode(self), as: UTF8.self)
        } catch let error as EncodingError {
            throw error
        } catch {
            throw EncodingError.invalidValue(self, .init(codingPath: [], debugDescription: String(describing: error)))
        }
    }

    /// The same facts for Prometheus (`kmodguard complete` writes them, docs/monitoring.md).
    package func metrics(lastRunSeconds: Int) -> StatusMetrics {
        StatusMetrics(
            ok: ok, pinned: pin != nil, guardedModules: guardedModules.count, guardResult: guardResult,
            trial: trial.flatMap(TrialState.init(rawValue:)),
            kernels: kernels.map { StatusMetrics.Kernel(release: $0.release, driver: $0.driver, running: $0.running, isDefault: $0.isDefault) },
            warnings: warnings.count,
            lastFallbackSeconds: lastFallback.flatMap { try? Date($0.recorded, strategy: .iso8601) }.map { Int($0.timeIntervalSince1970) },
            lastRunSeconds: lastRunSeconds)
    }

    /// What `kmodguard status` reports about the machine now.
    package static func current(context: CommandContext, running: String?) throws(CommandError) -> StatusReport {
        let snapshot = try SystemSnapshot.take(context: context, kernelOverride: running)
        let state = try StateStore(root: context.root).load()
        return make(snapshot: snapshot, state: state)
    }

    package static func make(snapshot: SystemSnapshot, state: PersistentState) -> StatusReport {
        let grub = snapshot.grub
        var kernels: [Kernel] = []
        for release in snapshot.kernels {
            let record = state.kernels[release.string]
            var kernel = Kernel(release: release.string, driver: .installed, missingModules: [], inInitramfs: nil,
                                firstError: nil, log: nil, message: nil, running: release == snapshot.running,
                                isDefault: release == snapshot.defaultKernel)
            if case .unresolved(let missing)? = snapshot.availability[release] {
                kernel.missingModules = missing
                kernel.driver = DriverState(unresolvedAfter: record?.state)
                kernel.firstError = record?.firstError
                kernel.log = record?.log
                kernel.message = record?.message
            } else if let record, record.state == "initramfs" {
                kernel.inInitramfs = true
            } else if let record, record.state == "failed" {
                // The module resolves but the run failed after installing it: the initramfs
                // was not rebuilt (no room in /boot, a failing generator), so it cannot boot yet.
                kernel.driver = .failed
                kernel.inInitramfs = false
                kernel.log = record.log
                kernel.message = record.message
            }
            kernels.append(kernel)
        }
        var warnings: [String] = []
        if let problem = snapshot.grubenvProblem { warnings.append(problem) }
        if let mount = snapshot.grubenvMount,
           let warning = GrubenvWritability.warning(fsType: mount.fsType, source: mount.source) {
            warnings.append(warning)
        }
        if snapshot.menu.entries.isEmpty { warnings.append("no GRUB menu entries found in " + snapshot.grubConfigPath) }

        let pending = grub.failedKernel.map {
            Fallback(source: FallbackEvent.Source.guardFallback.rawValue, failedKernel: $0.string, reason: grub.failureReason ?? "", recorded: "pending")
        }
        let broken = kernels.filter { $0.driver != .installed }
        let pinnedKernel = grub.pin.flatMap { snapshot.menu.entry(named: $0)?.kernel }
        if let pin = grub.pin, pinnedKernel == nil {
            warnings.append("kmodguard_pin names no entry in " + snapshot.grubConfigPath + " (" + pin + "): GRUB silently boots its first entry")
        }
        if let entry = grub.goodEntry, snapshot.menu.entry(named: entry) == nil {
            warnings.append("kmodguard_good_entry names no entry in " + snapshot.grubConfigPath + " (" + entry + ")")
        }
        let summary: String
        if snapshot.config.modules.isEmpty {
            summary = "nothing guarded: set MODULES in " + snapshot.root.config
        } else if broken.isEmpty, let pinnedKernel, pinnedKernel != snapshot.defaultKernel {
            summary = "ATTENTION: pinned to " + pinnedKernel.string + " after " + (snapshot.defaultKernel?.string ?? "the default kernel")
                + " failed to boot; see the last fallback below"
        } else if broken.isEmpty {
            summary = "OK: every installed kernel has " + snapshot.config.modules.joined(separator: " ")
        } else {
            summary = "ATTENTION: " + broken.map { kernel in
                if kernel.missingModules.isEmpty {
                    return kernel.release + "'s driver is installed but not in its initramfs (" + (kernel.message ?? "rebuild failed") + ")"
                }
                var text = kernel.release + " has no working " + kernel.missingModules.joined(separator: " ") + " (" + kernel.driver.rawValue
                if let error = kernel.firstError { text += ": " + error }
                return text + ")"
            }.joined(separator: "; ")
        }
        return StatusReport(
            ok: !snapshot.config.modules.isEmpty && broken.isEmpty && (pinnedKernel == nil || pinnedKernel == snapshot.defaultKernel), summary: summary, runningKernel: snapshot.running.string,
            guardedModules: snapshot.config.modules, guardResult: snapshot.guardVerdict, lastGood: grub.lastGood?.string,
            pin: grub.pin, trial: grub.trial?.rawValue, trialKernel: grub.trialKernel?.string, lastFallback: state.history.last.map(Fallback.init),
            pendingFallback: pending, kernels: kernels, warnings: warnings)
    }

    package var text: String {
        var lines = ["kmodguard: " + summary]
        func row(_ label: String, _ value: String?) {
            lines.append(label.padding(toLength: 17, withPad: " ", startingAt: 0) + (value ?? "none"))
        }
        row("running kernel", runningKernel + (guardResult.map { " (guard " + $0 + ")" } ?? " (no guard verdict for this boot)"))
        row("guarded modules", guardedModules.isEmpty ? nil : guardedModules.joined(separator: " "))
        row("last good", lastGood)
        row("pin", pin)
        row("trial", trial.map { $0 + (trialKernel.map { " for " + $0 } ?? "") })
        let fallback = pendingFallback ?? lastFallback
        row("last fallback", fallback.map { ($0.failedKernel ?? "?") + ": " + $0.reason + " (" + $0.source + ", " + $0.recorded + ")" })
        lines.append("kernels:")
        for kernel in kernels {
            var line = "  " + kernel.release.padding(toLength: 26, withPad: " ", startingAt: 0) + kernel.driver.rawValue
            if kernel.inInitramfs == true { line += ", in initramfs" }
            if kernel.running { line += " (running)" }
            if kernel.isDefault { line += " (default)" }
            lines.append(line)
            if let error = kernel.firstError { lines.append("      first error: " + error) }
            if let message = kernel.message, kernel.firstError == nil { lines.append("      " + message) }
            if let log = kernel.log { lines.append("      log: " + log) }
        }
        if !warnings.isEmpty {
            lines.append("warnings:")
            lines += warnings.map { "  " + $0 }
        }
        return lines.joined(separator: "\n")
    }
}
