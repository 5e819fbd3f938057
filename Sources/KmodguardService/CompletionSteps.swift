package import KmodguardCore

/// How getting the driver for one kernel ended.
package enum DriverOutcome: Equatable {
    /// Built (or fetched), installed under updates/ and depmod'ed.
    case installed(driver: String, modules: [String])
    /// The source excludes this kernel (DKMS's exit 77): not a failure of the build.
    case excluded(String)
    case headersMissing(package: String)
    /// Building or installing failed: retried only when something changes.
    case failed(message: String, firstError: String?, log: String?)
    /// The driver database refused what it served (signature, sha256, size, archive, vermagic,
    /// replay, no driver for this kernel, a 404): nothing was built; retried only when something
    /// changes, like a failed build. The message names the URL and the check.
    case refused(message: String)
    /// A download failed in a way that may pass (5xx, timeout, refused or reset connection,
    /// DNS): nothing was learnt about the driver; retried on the next run.
    case unavailable(message: String)
}

/// How rebuilding a kernel's initramfs ended.
package enum InitramfsOutcome: Equatable {
    case verified(image: String)
    /// No initramfs generator or image for this kernel: nothing to rebuild.
    case skipped(String)
    case failed(message: String, log: String?)
}

/// The steps `complete` runs per kernel. The live implementation drives the builder and the
/// initramfs generator; tests substitute a fake to exercise every branch.
package protocol CompletionSteps {
    /// `name-version` of the driver that would be built: part of the retry fingerprint.
    /// Mutating so that an implementation may resolve the driver on first use and keep it.
    mutating func driverIdentity() -> String
    /// What a failed build is retried on: `driverIdentity()` and, for a source tree, a digest of
    /// its files (a fix made in place, in a folder that keeps its `NAME-VERSION`, is a change).
    mutating func driverFingerprint() -> String
    mutating func obtainDriver(for kernel: KernelRelease) -> DriverOutcome
    mutating func rebuildInitramfs(for kernel: KernelRelease, modules: [String]) -> InitramfsOutcome
}

extension CompletionSteps {
    package mutating func driverFingerprint() -> String { driverIdentity() }
}
