import CBlkid
import CSystem
public import KmodguardCore

/// The libblkid seam. Works without udev: libblkid scans /proc/partitions and probes.
public enum Blkid {
    /// The device node for a tag such as `UUID=…`, or nil when no device carries it (yet).
    public static func device(for tag: DeviceTag) -> String? {
        let token = tag.name + "=" + tag.value
        guard let raw = blkid_evaluate_tag(token, nil, nil) else { return nil }
        defer { free(raw) }
        return String(cString: raw)
    }

    /// Polls for `tag` until `deadline` (monotonic ms).
    public static func waitForDevice(_ tag: DeviceTag, deadline: Int64) -> String? {
        while true {
            if let device = device(for: tag) { return device }
            if MonotonicClock.milliseconds() >= deadline { return nil }
            MonotonicClock.sleep(milliseconds: 100)
        }
    }

    /// Filesystem type (`ext4`, `vfat`, …) of a device, from its superblock.
    public static func filesystemType(_ device: String) -> String? {
        guard let probe = blkid_new_probe_from_filename(device) else { return nil }
        defer { blkid_free_probe(probe) }
        guard blkid_do_safeprobe(probe) == 0 else { return nil }
        var value: UnsafePointer<CChar>?
        guard blkid_probe_lookup_value(probe, "TYPE", &value, nil) == 0, let value else { return nil }
        return String(cString: value)
    }
}
