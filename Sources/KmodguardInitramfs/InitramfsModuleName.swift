/// Kernel module names as they appear in requests and in image listings: the kernel treats `-`
/// and `_` alike, and a module file may be compressed.
package enum InitramfsModuleName {
    /// Module file suffixes, longest first so `.ko.zst` is not read as `.ko`.
    package static let fileSuffixes = [".ko.zst", ".ko.xz", ".ko.gz", ".ko"]

    /// `virtio-blk` → `virtio_blk`.
    package static func normalized(_ name: String) -> String {
        String(name.map { $0 == "-" ? "_" : $0 })
    }

    /// `usr/lib/modules/K/kernel/drivers/block/virtio_blk.ko.zst` → `virtio_blk`; nil for a
    /// file that is not a kernel module.
    package static func ofFile(_ path: String) -> String? {
        let base = path.split(separator: "/").last.map(String.init) ?? path
        for suffix in fileSuffixes where base.hasSuffix(suffix) && base.count > suffix.count {
            return normalized(String(base.dropLast(suffix.count)))
        }
        return nil
    }
}
