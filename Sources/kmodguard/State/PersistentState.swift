import Foundation

/// `/var/lib/kmodguard/state.json`: what the post-boot service learned, for `status` and for
/// not rebuilding in a loop.
struct PersistentState: Codable, Equatable {
    /// Per kernel release.
    struct KernelRecord: Codable, Equatable {
        /// `installed` (driver built and installed), `initramfs` (and verified in the image),
        /// `failed`, `excluded` (BUILD_EXCLUSIVE_*), `headers-missing`, `download-failed` (a transient
        /// download failure: retried on the next run whatever the fingerprint).
        var state: String
        /// Inputs of the last attempt; a failure is retried only when they change.
        var fingerprint: String?
        var driver: String?
        var firstError: String?
        var log: String?
        var message: String?
        var updated: String
    }

    /// A boot that did not reach its kernel.
    struct HistoryRecord: Codable, Equatable {
        var source: String
        var failedKernel: String?
        var reason: String
        var recorded: String
    }

    static let historyLimit = 50

    var version = 1
    /// The boot (`/proc/sys/kernel/random/boot_id`) whose outcome is recorded: a later run in
    /// the same boot (a kernel hook, the retry timer) must not read the trial the first run
    /// armed for the coming reboot as a trial that did not start.
    var bootRecorded: String?
    var kernels: [String: KernelRecord] = [:]
    var history: [HistoryRecord] = []

    mutating func append(_ record: HistoryRecord) {
        history.append(record)
        if history.count > Self.historyLimit { history.removeFirst(history.count - Self.historyLimit) }
    }
}

/// ISO 8601 time stamps in UTC for state and history.
func timestamp(_ date: Date = Date()) -> String {
    date.formatted(.iso8601)
}
