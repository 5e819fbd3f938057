/// `/var/lib/kmodguard/state.json`: what the post-boot service learned, for `status` and for
/// not rebuilding in a loop.
package struct PersistentState: Codable, Equatable {
    /// Per kernel release.
    package struct KernelRecord: Codable, Equatable {
        /// `installed` (driver built and installed), `initramfs` (and verified in the image),
        /// `failed`, `excluded` (BUILD_EXCLUSIVE_*), `headers-missing`, `download-failed` (a transient
        /// download failure: retried on the next run whatever the fingerprint).
        package var state: String
        /// Inputs of the last attempt; a failure is retried only when they change.
        package var fingerprint: String?
        package var driver: String?
        package var firstError: String?
        package var log: String?
        package var message: String?
        package var updated: String
    }

    /// A boot that did not reach its kernel.
    package struct HistoryRecord: Codable, Equatable {
        package var source: String
        package var failedKernel: String?
        package var reason: String
        package var recorded: String
    }

    package static let historyLimit = 50

    package var version = 1
    /// The boot (`/proc/sys/kernel/random/boot_id`) whose outcome is recorded: a later run in
    /// the same boot (a kernel hook, the retry timer) must not read the trial the first run
    /// armed for the coming reboot as a trial that did not start.
    package var bootRecorded: String?
    package var kernels: [String: KernelRecord] = [:]
    package var history: [HistoryRecord] = []

    package mutating func append(_ record: HistoryRecord) {
        history.append(record)
        if history.count > Self.historyLimit { history.removeFirst(history.count - Self.historyLimit) }
    }
}
