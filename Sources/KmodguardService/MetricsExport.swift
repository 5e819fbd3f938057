package import Foundation
import KmodguardCompletion
package import KmodguardCore
import KmodguardSystem

/// The Prometheus textfile of `kmodguard complete` (docs/monitoring.md): the one place the
/// metrics are written. Monitoring never changes what the service does, so callers log a
/// failure here and go on.
package enum MetricsExport {
    /// The file for `setting` under `root`, or nil when none is to be written: an explicit
    /// path always, the default only when node_exporter's textfile directory exists.
    package static func destination(_ setting: MetricsFile, root: SystemRoot, isDirectory: (String) -> Bool = Files.isDirectory) -> String? {
        switch setting {
        case .disabled:
            return nil
        case .path(let path):
            return root.path(path)
        case .automatic:
            let path = root.path(MetricsFile.defaultPath)
            return isDirectory(parentDirectory(path)) ? path : nil
        }
    }

    /// Writes `report` as metrics to `path` atomically (temporary file beside it, fsync,
    /// rename): the collector reads only `*.prom`, so it never sees a partial file.
    package static func write(_ report: StatusReport, to path: String, now: Date = Date()) -> SystemError? {
        if let error = Files.makeDirectories(parentDirectory(path)) { return error }
        let text = report.metrics(lastRunSeconds: Int(now.timeIntervalSince1970)).prometheusText
        return Files.replaceAtomically(path, with: Array(text.utf8))
    }
}
