import Foundation
import KmodguardCompletion
import KmodguardCore
import KmodguardSystem

/// The answer of `kmodguard status`, also its `--json` form.
struct StatusReport: Codable, Equatable {
    struct Kernel: Codable, Equatable {
        var release: String
        /// `installed`, `missing`, `failed`, `excluded`, `headers-missing`, `download-failed`.
        var driver: String
        var missingModules: [String]
        /// Whether the verified initramfs holds the driver (nil: not checked).
        var inInitramfs: Bool?
        var firstError: String?
        var log: String?
        var message: String?
        var running: Bool
        var isDefault: Bool
    }

    var ok: Bool
    var summary: String
    var runningKernel: String
    var guardedModules: [String]
    var guardResult: String?
    var lastGood: String?
    var pin: String?
    var trial: String?
    var trialKernel: String?
    var lastFallback: PersistentState.HistoryRecord?
    var pendingFallback: PersistentState.HistoryRecord?
    var kernels: [Kernel]
    var warnings: [String]

    static func make(snapshot: SystemSnapshot, state: PersistentState, mountinfo: [UInt8]?) -> StatusReport {
        let grub = snapshot.grub
        var kernels: [Kernel] = []
        for release in snapshot.kernels {
            let record = state.kernels[release.string]
            var kernel = Kernel(release: release.string, driver: "installed", missingModules: [], inInitramfs: nil,
                                firstError: nil, log: nil, message: nil, running: release == snapshot.running,
                                isDefault: release == snapshot.defaultKernel)
            if case .unresolved(let missing)? = snapshot.availability[release] {
                kernel.missingModules = missing
                kernel.driver = record.map { $0.state == "installed" || $0.state == "initramfs" ? "missing" : $0.state } ?? "missing"
                kernel.firstError = record?.firstError
                kernel.log = record?.log
                kernel.message = record?.message
            } else if let record, record.state == "initramfs" {
                kernel.inInitramfs = true
            }
            kernels.append(kernel)
        }
        var warnings: [String] = []
        if let problem = snapshot.grubenvProblem { warnings.append(problem) }
        if let mountinfo, let mount = MountInfo.containing(snapshot.grubenvPath, mountinfo: mountinfo),
           let warning = GrubenvWritability.warning(fsType: mount.fsType, source: mount.source) {
            warnings.append(warning)
        }
        if snapshot.menu.entries.isEmpty { warnings.append("no GRUB menu entries found in " + snapshot.grubConfigPath) }

        let pending = grub.failedKernel.map {
            PersistentState.HistoryRecord(source: "guard", failedKernel: $0.string, reason: grub.failureReason ?? "", recorded: "pending")
        }
        let broken = kernels.filter { $0.driver != "installed" }
        let pinnedKernel = grub.pin.flatMap { pin in snapshot.menu.entries.first { $0.path == pin }?.kernel }
        if let pin = grub.pin, pinnedKernel == nil {
            warnings.append("kmodguard_pin names no entry in " + snapshot.grubConfigPath + " (" + pin + "): GRUB silently boots its first entry")
        }
        if let entry = grub.goodEntry, !snapshot.menu.entries.contains(where: { $0.path == entry }) {
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
                var text = kernel.release + " has no working " + kernel.missingModules.joined(separator: " ") + " (" + kernel.driver
                if let error = kernel.firstError { text += ": " + error }
                return text + ")"
            }.joined(separator: "; ")
        }
        return StatusReport(
            ok: !snapshot.config.modules.isEmpty && broken.isEmpty && (pinnedKernel == nil || pinnedKernel == snapshot.defaultKernel), summary: summary, runningKernel: snapshot.running.string,
            guardedModules: snapshot.config.modules, guardResult: snapshot.guardVerdict, lastGood: grub.lastGood?.string,
            pin: grub.pin, trial: grub.trial?.rawValue, trialKernel: grub.trialKernel?.string, lastFallback: state.history.last,
            pendingFallback: pending, kernels: kernels, warnings: warnings)
    }

    var text: String {
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
            var line = "  " + kernel.release.padding(toLength: 26, withPad: " ", startingAt: 0) + kernel.driver
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
