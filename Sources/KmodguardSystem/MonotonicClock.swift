import CSystem

/// `CLOCK_MONOTONIC`: durations and deadlines that a clock set back or forward (no RTC, NTP
/// at boot) cannot stretch or cut.
public enum MonotonicClock {
    public static func milliseconds() -> Int64 { kg_monotonic_ms() }
    public static func sleep(milliseconds: Int) { kg_sleep_ms(Int32(milliseconds)) }
}
