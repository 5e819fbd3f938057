import CSystem

/// Which kernel and machine this is (`uname(2)`): the release to build a driver for and DKMS's
/// `$arch`.
package enum KernelIdentity {
    /// `uname -r`; nil only if uname fails.
    package static func release() -> String? {
        var names = utsname()
        guard uname(&names) == 0 else { return nil }
        return withUnsafeBytes(of: &names.release) { field($0) }
    }

    /// `uname -m`; nil only if uname fails.
    package static func machine() -> String? {
        var names = utsname()
        guard uname(&names) == 0 else { return nil }
        return withUnsafeBytes(of: &names.machine) { field($0) }
    }

    /// A NUL-terminated `utsname` field.
    private static func field(_ bytes: UnsafeRawBufferPointer) -> String {
        String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }
}
