package import KmodguardCore
import KmodguardSystem

/// The kernel build tree a module compiles against: `ROOT/lib/modules/K/build`, which Debian's
/// `linux-headers-K` points at `/usr/src/linux-headers-K`.
package struct KernelHeaders: Sendable {
    /// Resolved path of the tree (symlinks followed), passed to make as `$kernel_source_dir`.
    package let directory: String

    /// Debian's package for a kernel's headers.
    package static func package(for kernel: KernelRelease) -> String { "linux-headers-" + kernel.string }

    /// Where the headers must be: `ROOT/lib/modules/K/build`.
    package static func link(for kernel: KernelRelease, root: SystemRoot) -> String { root.modules(kernel) + "/build" }

    /// The headers of `kernel`, or `.headersMissing` naming the package that provides them.
    package static func locate(_ kernel: KernelRelease, root: SystemRoot) throws(BuildFailure) -> KernelHeaders {
        let link = link(for: kernel, root: root)
        let resolved = (try? Links.resolved(link)) ?? link
        guard Files.isDirectory(resolved), Files.exists(resolved + "/Makefile") else {
            throw .headersMissing(kernel, package: package(for: kernel), path: link)
        }
        return KernelHeaders(directory: resolved)
    }

    /// The kernel's configuration, for `BUILD_EXCLUSIVE_CONFIG`: the headers' `.config`, else
    /// `ROOT/boot/config-K`. Returns the bytes (nil if neither exists) and the path looked at.
    package static func config(for kernel: KernelRelease, root: SystemRoot) -> (bytes: [UInt8]?, path: String) {
        let candidates = [link(for: kernel, root: root) + "/.config", root.path("/boot/config-" + kernel.string)]
        for path in candidates {
            if case .success(let bytes) = Files.read(path, limit: 16 * 1024 * 1024) { return (bytes, path) }
        }
        return (nil, candidates[0])
    }

    /// The compiler the kernel was built with (`CONFIG_CC_VERSION_TEXT="gcc-12 (Debian …) …"` →
    /// `gcc-12`), which DKMS exports as `CC` for Makefiles that compile outside Kbuild.
    package static func compiler(inConfig bytes: [UInt8]) -> String? {
        let key = "CONFIG_CC_VERSION_TEXT=\""
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix(key) {
            let value = line.dropFirst(key.count)
            let word = value.prefix { $0 != " " && $0 != "\"" }
            return word.isEmpty ? nil : String(word)
        }
        return nil
    }
}
