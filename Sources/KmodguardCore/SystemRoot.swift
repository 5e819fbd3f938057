/// Every path kmodguard touches, under a root directory (`--root DIR`, default `/`), so tests and
/// the e2e harness can point both programs at a fixture tree.
public struct SystemRoot: Equatable, Sendable {
    /// The root without a trailing slash; "" for `/`.
    public let prefix: String

    public init(_ root: String = "/") {
        var bytes = Array(root.utf8)
        while bytes.count > 0, bytes.last == UInt8(ascii: "/") { bytes.removeLast() }
        prefix = String(decoding: bytes, as: UTF8.self)
    }

    public var isHost: Bool { prefix.isEmpty }

    /// `absolute` (which starts with `/`) inside the root.
    public func path(_ absolute: String) -> String {
        if absolute.utf8.first == UInt8(ascii: "/") { return prefix + absolute }
        return prefix + "/" + absolute
    }

    public var boot: String { path("/boot") }
    public var grubConfig: String { path("/boot/grub/grub.cfg") }
    public var defaultGrubenv: String { path("/boot/grub/grubenv") }
    public var config: String { path(GuardConfig.defaultPath) }
    /// Kernels whose initramfs was built with a verified driver (one release per line).
    public var verifiedKernels: String { path("/etc/kmodguard/verified-kernels") }
    public var stateDirectory: String { path("/var/lib/kmodguard") }
    /// The guard's verdict for this boot, for the post-boot service (/run survives switch_root).
    public var earlyResult: String { path("/run/kmodguard/early-result") }
    /// The kernel command line (GRUB's `kmodguard.boot=` marker is read from it).
    public var kernelCommandLine: String { path("/proc/cmdline") }
    /// Where the guard mounts `BOOT_DEVICE` when grubenv is not reachable otherwise.
    public var bootMountPoint: String { path("/run/kmodguard/boot") }

    public func modules(_ kernel: KernelRelease) -> String { path("/lib/modules/" + kernel.string) }
    public func kernelImage(_ kernel: KernelRelease, bootDirectory: String? = nil) -> String {
        (bootDirectory ?? boot) + "/vmlinuz-" + kernel.string
    }
}

/// `/a/b/c` → `/a/b`; `c` → `.`.
public func parentDirectory(_ path: String) -> String {
    let bytes = Array(path.utf8)
    guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")) else { return "." }
    if slash == 0 { return "/" }
    return String(decoding: bytes[..<slash], as: UTF8.self)
}
