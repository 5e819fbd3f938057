/// A kernel's guarded driver as `kmodguard status` reports it: `kernels[].driver` in
/// `status --json` (docs/status.schema.json) and the `state` label of the
/// `kmodguard_kernel_driver` metric. A public contract: a new case is a new schema enum value.
public enum DriverState: String, CaseIterable, Codable, Sendable {
    /// Every guarded module resolves in the kernel's module tree.
    case installed
    /// A guarded module is missing and no attempt to build it is on record (or one succeeded
    /// and the module is gone again).
    case missing
    /// The last build, install or initramfs rebuild failed.
    case failed
    /// The driver source excludes this kernel (dkms.conf `BUILD_EXCLUSIVE_*`).
    case excluded
    /// The kernel's headers are not installed, so nothing could be built.
    case headersMissing = "headers-missing"
    /// The last attempt could not download the driver in a way that may pass (HTTP 5xx, timeout,
    /// refused or reset connection, DNS): nothing was learnt, the next run tries again.
    case downloadFailed = "download-failed"

    /// The state of a kernel whose guarded modules do not resolve, from the state kmodguard
    /// recorded for its last attempt (`state.json`), if any.
    public init(unresolvedAfter recorded: String?) {
        switch recorded {
        case nil, "installed"?, "initramfs"?: self = .missing
        case "excluded"?: self = .excluded
        case "headers-missing"?: self = .headersMissing
        case "download-failed"?: self = .downloadFailed
        // "failed", and any other outcome of an attempt that left the driver missing.
        default: self = .failed
        }
    }
}
