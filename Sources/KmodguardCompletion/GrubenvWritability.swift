/// Whether GRUB's `save_env` can write grubenv where it lives. GRUB refuses to write through
/// its diskfilter and copy-on-write drivers, so the trial counter and `next_entry` clearing do
/// not work there (grub-editenv from Linux still does).
public enum GrubenvWritability {
    /// A warning for `status`, or nil when GRUB can write the block.
    /// - Parameters:
    ///   - fsType: the filesystem type from mountinfo (`ext4`, `vfat`, `btrfs`, …).
    ///   - source: the mount source (`/dev/sda2`, `/dev/md0`, `/dev/mapper/vg-boot`, …).
    public static func warning(fsType: String, source: String) -> String? {
        guard let why = obstacle(fsType: fsType, source: source) else { return nil }
        return "grubenv is on " + why + ": GRUB cannot save_env there, so GRUB's trial counter and next_entry clearing "
            + "do not work (an unrecordable trial boots the last good entry; kmodguard clears a next_entry GRUB could not); "
            + "put /boot on a plain partition (ext4 or the ESP) for GRUB's own fallback"
    }

    /// Whether GRUB's `save_env` can write grubenv on this mount.
    public static func grubCanSave(fsType: String, source: String) -> Bool {
        obstacle(fsType: fsType, source: source) == nil
    }

    /// What keeps GRUB from writing, or nil.
    static func obstacle(fsType: String, source: String) -> String? {
        let why: String?
        switch fsType {
        case "btrfs": why = "btrfs"
        case "zfs": why = "ZFS"
        default:
            if source.hasPrefix("/dev/md") {
                why = "md RAID (" + source + ")"
            } else if source.hasPrefix("/dev/mapper/") || source.hasPrefix("/dev/dm-") {
                why = "a device-mapper volume such as LVM or dm-crypt (" + source + ")"
            } else {
                why = nil
            }
        }
        return why
    }
}
