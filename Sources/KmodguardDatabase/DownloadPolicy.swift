import KmodguardCore

/// How patient and how trusting downloads are. The defaults suit a boot-time service on a
/// slow link; tests shorten the waits and add their own CA.
package struct DownloadPolicy: Sendable {
    package var connectTimeoutSeconds: Double = 20
    /// For one attempt, connection included.
    package var totalTimeoutSeconds: Double = 600
    /// An attempt that receives less than `lowSpeedBytesPerSecond` for `lowSpeedSeconds` in a
    /// row is cut off as timed out (and retried like one): a stalled or trickling server.
    package var lowSpeedBytesPerSecond = 1024
    package var lowSpeedSeconds = 60
    /// Attempts per URL; only transient failures (5xx, timeouts, resets, refused) are retried.
    package var attempts = 4
    /// Wait before the second attempt; doubled before each further one.
    package var backoffSeconds: Double = 2
    /// A PEM bundle trusted in addition to the system's CA directory (libcurl's CAINFO).
    package var caFile: String?
    package var userAgent = "kmodguard/" + kmodguardVersion

    package init() {}
}
