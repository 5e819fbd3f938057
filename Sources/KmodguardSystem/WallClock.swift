import Foundation

/// The time of day, for records a person reads (state, history, log headers), never for
/// durations (`MonotonicClock`). Regular build only: the guard records no wall time.
package enum WallClock {
    /// ISO 8601 in UTC, `2026-12-05T14:39:20Z`: what state.json, the driver database's
    /// generation store and the build and initramfs logs all hold.
    package static func timestamp() -> String {
        Date().formatted(.iso8601)
    }
}
