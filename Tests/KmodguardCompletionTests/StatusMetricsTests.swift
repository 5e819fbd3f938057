@testable import KmodguardCompletion
import Testing

/// The Prometheus text of `kmodguard complete`, state by state.
@Suite struct StatusMetricsTests {
    static let old = "6.1.0-55-cloud-amd64"
    static let new = "6.1.0-56-cloud-amd64"

    /// Both kernels with their driver, the new one running and default.
    static let healthy = StatusMetrics(
        ok: true, pinned: false, guardedModules: 1, guardResult: "passed", trial: nil,
        kernels: [.init(release: new, driver: .installed, running: true, isDefault: true),
                  .init(release: old, driver: .installed, running: false, isDefault: false)],
        warnings: 0, lastFallbackSeconds: nil, lastRunSeconds: 1_795_000_000)

    @Test func healthyMachineExactly() {
        #expect(Self.healthy.prometheusText == """
        # HELP kmodguard_ok 1 when every installed kernel has its guarded driver and no pin holds the default kernel back (kmodguard status exits 0).
        # TYPE kmodguard_ok gauge
        kmodguard_ok 1
        # HELP kmodguard_pinned 1 when grubenv pins a kernel (kmodguard_pin) because the default kernel has no working driver.
        # TYPE kmodguard_pinned gauge
        kmodguard_pinned 0
        # HELP kmodguard_guarded_modules Number of modules named in MODULES (0: nothing guarded).
        # TYPE kmodguard_guarded_modules gauge
        kmodguard_guarded_modules 1
        # HELP kmodguard_kernel_driver Driver state of each installed kernel: 1 for its state, 0 for the others.
        # TYPE kmodguard_kernel_driver gauge
        kmodguard_kernel_driver{release="6.1.0-56-cloud-amd64",state="installed"} 1
        kmodguard_kernel_driver{release="6.1.0-56-cloud-amd64",state="missing"} 0
        kmodguard_kernel_driver{release="6.1.0-56-cloud-amd64",state="failed"} 0
        kmodguard_kernel_driver{release="6.1.0-56-cloud-amd64",state="excluded"} 0
        kmodguard_kernel_driver{release="6.1.0-56-cloud-amd64",state="headers-missing"} 0
        kmodguard_kernel_driver{release="6.1.0-56-cloud-amd64",state="download-failed"} 0
        kmodguard_kernel_driver{release="6.1.0-55-cloud-amd64",state="installed"} 1
        kmodguard_kernel_driver{release="6.1.0-55-cloud-amd64",state="missing"} 0
        kmodguard_kernel_driver{release="6.1.0-55-cloud-amd64",state="failed"} 0
        kmodguard_kernel_driver{release="6.1.0-55-cloud-amd64",state="excluded"} 0
        kmodguard_kernel_driver{release="6.1.0-55-cloud-amd64",state="headers-missing"} 0
        kmodguard_kernel_driver{release="6.1.0-55-cloud-amd64",state="download-failed"} 0
        # HELP kmodguard_kernel_info Installed kernels; running and default say whether it runs now and whether GRUB boots it by default.
        # TYPE kmodguard_kernel_info gauge
        kmodguard_kernel_info{release="6.1.0-56-cloud-amd64",running="true",default="true"} 1
        kmodguard_kernel_info{release="6.1.0-55-cloud-amd64",running="false",default="false"} 1
        # HELP kmodguard_guard_result The initramfs guard's verdict for the running boot (absent when it did not run).
        # TYPE kmodguard_guard_result gauge
        kmodguard_guard_result{result="passed"} 1
        # HELP kmodguard_trial GRUB trial boot state in grubenv (kmodguard_trial): 1 for the current state, all 0 when none.
        # TYPE kmodguard_trial gauge
        kmodguard_trial{state="armed"} 0
        kmodguard_trial{state="consumed"} 0
        kmodguard_trial{state="failed"} 0
        # HELP kmodguard_warnings Number of warnings kmodguard status shows (grubenv unreadable or on a filesystem GRUB cannot write, ...).
        # TYPE kmodguard_warnings gauge
        kmodguard_warnings 0
        # HELP kmodguard_last_run_timestamp_seconds When kmodguard complete last wrote these metrics.
        # TYPE kmodguard_last_run_timestamp_seconds gauge
        kmodguard_last_run_timestamp_seconds 1795000000

        """)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var change: @Sendable (inout StatusMetrics) -> Void
        var present: [String]
        var absent: [String] = []
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "failed build, pinned", change: {
            $0.ok = false
            $0.pinned = true
            $0.kernels[0] = .init(release: new, driver: .failed, running: false, isDefault: true)
            $0.kernels[1].running = true
        }, present: ["kmodguard_ok 0", "kmodguard_pinned 1",
                     "kmodguard_kernel_driver{release=\"\(new)\",state=\"failed\"} 1",
                     "kmodguard_kernel_driver{release=\"\(new)\",state=\"installed\"} 0",
                     "kmodguard_kernel_info{release=\"\(new)\",running=\"false\",default=\"true\"} 1"]),
        Case(name: "headers missing", change: { $0.ok = false; $0.kernels[0].driver = .headersMissing },
             present: ["kmodguard_kernel_driver{release=\"\(new)\",state=\"headers-missing\"} 1"]),
        Case(name: "excluded", change: { $0.kernels[0].driver = .excluded },
             present: ["kmodguard_kernel_driver{release=\"\(new)\",state=\"excluded\"} 1"]),
        Case(name: "missing", change: { $0.kernels[0].driver = .missing },
             present: ["kmodguard_kernel_driver{release=\"\(new)\",state=\"missing\"} 1"]),
        Case(name: "pending activation: trial armed", change: {
            $0.trial = .armed
            $0.kernels[0].running = false
            $0.kernels[1].running = true
        }, present: ["kmodguard_trial{state=\"armed\"} 1", "kmodguard_trial{state=\"failed\"} 0",
                     "kmodguard_kernel_info{release=\"\(new)\",running=\"false\",default=\"true\"} 1"]),
        Case(name: "trial failed, fallback recorded", change: { $0.trial = .failed; $0.lastFallbackSeconds = 1_794_999_000 },
             present: ["kmodguard_trial{state=\"failed\"} 1", "kmodguard_trial{state=\"armed\"} 0",
                       "# TYPE kmodguard_last_fallback_timestamp_seconds gauge", "kmodguard_last_fallback_timestamp_seconds 1794999000"]),
        Case(name: "guard gave up", change: { $0.guardResult = "gave-up" },
             present: ["kmodguard_guard_result{result=\"gave-up\"} 1"], absent: ["result=\"passed\""]),
        Case(name: "no guard verdict: the family is left out", change: { $0.guardResult = nil },
             present: ["kmodguard_ok 1"], absent: ["kmodguard_guard_result"]),
        Case(name: "nothing guarded, no kernels", change: { $0.ok = false; $0.guardedModules = 0; $0.kernels = [] },
             present: ["kmodguard_guarded_modules 0"], absent: ["kmodguard_kernel_driver", "kmodguard_kernel_info"]),
        Case(name: "warnings", change: { $0.warnings = 2 }, present: ["kmodguard_warnings 2"]),
        Case(name: "no fallback on record", change: { $0.lastFallbackSeconds = nil }, present: [],
             absent: ["kmodguard_last_fallback_timestamp_seconds"]),
    ]

    @Test(arguments: cases)
    func stateShowsInTheMetrics(_ test: Case) {
        var metrics = Self.healthy
        test.change(&metrics)
        let text = metrics.prometheusText
        let lines = text.split(separator: "\n").map(String.init)
        for line in test.present { #expect(lines.contains(line), "\(line)\n\(text)") }
        for fragment in test.absent { #expect(!text.contains(fragment), "\(fragment)") }
        Self.expectWellFormed(text)
    }

    /// Every sample belongs to a family announced by HELP and TYPE just before it, names follow
    /// Prometheus' conventions, and no series appears twice.
    static func expectWellFormed(_ text: String) {
        #expect(text.hasSuffix("\n"))
        var family: String?
        var typed = false
        var series = Set<String>()
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init) {
            let words = line.split(separator: " ", maxSplits: 3).map(String.init)
            if line.hasPrefix("# HELP ") {
                family = words[2]
                typed = false
                #expect(words[2].hasPrefix("kmodguard_") && words[2].allSatisfy { $0.isLowercase || $0.isNumber || $0 == "_" }, "\(line)")
                #expect(!words[2].hasSuffix("_total"), "gauges do not end in _total: \(line)")
            } else if line.hasPrefix("# TYPE ") {
                #expect(words.count == 4 && words[2] == family && words[3] == "gauge", "\(line)")
                typed = true
            } else {
                let name = String(line.prefix { $0 != "{" && $0 != " " })
                #expect(name == family && typed, "sample outside its family: \(line)")
                // The series is everything before the value (label values may hold blanks).
                #expect(series.insert(line.split(separator: " ").dropLast().joined(separator: " ")).inserted, "duplicate series: \(line)")
                #expect(Int(words.last ?? "") != nil, "\(line)")
            }
        }
    }

    @Test func labelValuesAndHelpAreEscaped() {
        #expect(StatusMetrics.escape("a\\b\"c\nd", quote: true) == "a\\\\b\\\"c\\nd")
        #expect(StatusMetrics.escape("a\\b\"c\r\nd", quote: false) == "a\\\\b\"c\r\\nd")
        var metrics = Self.healthy
        metrics.kernels = [.init(release: "6.1.0-\"odd\"", driver: .installed, running: true, isDefault: true)]
        #expect(metrics.prometheusText.contains("kmodguard_kernel_info{release=\"6.1.0-\\\"odd\\\"\",running=\"true\",default=\"true\"} 1"))
    }
}
