import CSystem
public import KmodguardCore

/// Log lines: `/dev/kmsg` as `<N>kmodguard: …` inside the initramfs, stderr elsewhere.
public struct Kmsg {
    var descriptor: Int32 = -1

    /// With `useKmsg`, opens /dev/kmsg under `root`; falls back to stderr when it cannot.
    public init(useKmsg: Bool, root: SystemRoot) {
        if useKmsg { descriptor = kg_open(root.path("/dev/kmsg"), O_WRONLY | O_CLOEXEC | O_NOCTTY, 0) }
    }

    public var writesToKmsg: Bool { descriptor >= 0 }

    /// One line `SOURCE: MESSAGE`; `source` is "kmodguard" but for the summary the initramfs
    /// hooks ask for (`--summary`), which keeps their "kmodguard-hook" name.
    public func log(_ level: LogLevel, _ message: String, source: String = "kmodguard") {
        var line: [UInt8] = []
        if descriptor >= 0 {
            line += Array(("<" + String(level.rawValue) + ">").utf8)
        }
        line += Array((source + ": ").utf8)
        // One record per line: the kernel caps a kmsg record near 1 KiB.
        for byte in message.utf8.prefix(900) { line.append(byte == UInt8(ascii: "\n") ? UInt8(ascii: " ") : byte) }
        line.append(UInt8(ascii: "\n"))
        let target = descriptor >= 0 ? descriptor : 2
        _ = line.withUnsafeBytes { buffer in write(target, buffer.baseAddress, buffer.count) }
    }
}
