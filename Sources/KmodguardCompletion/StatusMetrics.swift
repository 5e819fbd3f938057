public import KmodguardCore

/// The facts of `kmodguard status` a fleet alerts on, in Prometheus' text exposition format for
/// node_exporter's textfile collector (docs/monitoring.md). Pure: `kmodguard complete` fills it
/// from the same `StatusReport` that `status --json` prints and writes the text in one place.
public struct StatusMetrics: Equatable, Sendable {
    public struct Kernel: Equatable, Sendable {
        public var release: String
        public var driver: DriverState
        public var running: Bool
        public var isDefault: Bool

        public init(release: String, driver: DriverState, running: Bool, isDefault: Bool) {
            self.release = release
            self.driver = driver
            self.running = running
            self.isDefault = isDefault
        }
    }

    public var ok: Bool
    public var pinned: Bool
    public var guardedModules: Int
    /// kmodguard-early's verdict for the running boot (`guardResult`), nil when it did not run.
    public var guardResult: String?
    public var trial: TrialState?
    public var kernels: [Kernel]
    public var warnings: Int
    /// When the last fallback was recorded (Unix seconds), nil when none is on record.
    public var lastFallbackSeconds: Int?
    /// When `kmodguard complete` produced these facts (Unix seconds).
    public var lastRunSeconds: Int

    public init(ok: Bool, pinned: Bool, guardedModules: Int, guardResult: String?, trial: TrialState?, kernels: [Kernel],
                warnings: Int, lastFallbackSeconds: Int?, lastRunSeconds: Int) {
        self.ok = ok
        self.pinned = pinned
        self.guardedModules = guardedModules
        self.guardResult = guardResult
        self.trial = trial
        self.kernels = kernels
        self.warnings = warnings
        self.lastFallbackSeconds = lastFallbackSeconds
        self.lastRunSeconds = lastRunSeconds
    }

    /// One labelled value of a metric family.
    struct Sample {
        var labels: [(name: String, value: String)]
        var value: String
    }

    /// The exposition text: every family a gauge with HELP and TYPE lines; a family without
    /// samples is left out entirely. State sets (driver, trial) carry every state, 1 for the
    /// current one and 0 for the rest, so an alert on a state need not handle absent series.
    public var prometheusText: String {
        func flag(_ value: Bool) -> String { value ? "1" : "0" }
        var text = ""
        func family(_ name: String, _ help: String, _ samples: [Sample]) {
            guard !samples.isEmpty else { return }
            text += "# HELP " + name + " " + Self.escape(help, quote: false) + "\n# TYPE " + name + " gauge\n"
            for sample in samples {
                let labels = sample.labels.map { $0.name + "=\"" + Self.escape($0.value, quote: true) + "\"" }
                text += name + (labels.isEmpty ? "" : "{" + labels.joined(separator: ",") + "}") + " " + sample.value + "\n"
            }
        }
        family("kmodguard_ok", "1 when every installed kernel has its guarded driver and no pin holds the default kernel back (kmodguard status exits 0).",
               [Sample(labels: [], value: flag(ok))])
        family("kmodguard_pinned", "1 when grubenv pins a kernel (kmodguard_pin) because the default kernel has no working driver.",
               [Sample(labels: [], value: flag(pinned))])
        family("kmodguard_guarded_modules", "Number of modules named in MODULES (0: nothing guarded).",
               [Sample(labels: [], value: String(guardedModules))])
        family("kmodguard_kernel_driver", "Driver state of each installed kernel: 1 for its state, 0 for the others.",
               kernels.flatMap { kernel in
                   DriverState.allCases.map {
                       Sample(labels: [("release", kernel.release), ("state", $0.rawValue)], value: flag($0 == kernel.driver))
                   }
               })
        family("kmodguard_kernel_info", "Installed kernels; running and default say whether it runs now and whether GRUB boots it by default.",
               kernels.map {
                   Sample(labels: [("release", $0.release), ("running", String($0.running)), ("default", String($0.isDefault))], value: "1")
               })
        family("kmodguard_guard_result", "The initramfs guard's verdict for the running boot (absent when it did not run).",
               guardResult.map { [Sample(labels: [("result", $0)], value: "1")] } ?? [])
        family("kmodguard_trial", "GRUB trial boot state in grubenv (kmodguard_trial): 1 for the current state, all 0 when none.",
               TrialState.allCases.map { Sample(labels: [("state", $0.rawValue)], value: flag($0 == trial)) })
        family("kmodguard_warnings", "Number of warnings kmodguard status shows (grubenv unreadable or on a filesystem GRUB cannot write, ...).",
               [Sample(labels: [], value: String(warnings))])
        family("kmodguard_last_fallback_timestamp_seconds", "When the last fallback away from a kernel without its driver was recorded.",
               lastFallbackSeconds.map { [Sample(labels: [], value: String($0))] } ?? [])
        family("kmodguard_last_run_timestamp_seconds", "When kmodguard complete last wrote these metrics.",
               [Sample(labels: [], value: String(lastRunSeconds))])
        return text
    }

    /// Escapes backslash and newline, and for label values (`quote`) also the double quote.
    static func escape(_ value: String, quote: Bool) -> String {
        var out = ""
        // Scalars, not Characters: "\r\n" is one Character and would hide its newline.
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\"" where quote: out += "\\\""
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
