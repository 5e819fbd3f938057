/// A build that tried to write outside its scratch tree. kmodguard builds as an unprivileged
/// user in a copy of the source; DKMS builds as root, so a MAKE that writes to fixed paths works
/// there and fails here — except DKMS's own two (`/usr/src/NAME-VERSION`,
/// `/var/lib/dkms/NAME/VERSION/build`, which Debian's west-chamber hard-codes): as root,
/// kmodguard shows those as the build's copy (`DkmsPathView`).
public enum DeniedWrite {
    /// The first path of a `…'PATH': Permission denied` line of `log` that is not below
    /// `allowed` (the build's own tree).
    public static func firstOutside(_ log: String, allowed: String) -> String? {
        for line in log.split(separator: "\n") where line.hasSuffix(": Permission denied") {
            let parts = line.split(separator: "'", omittingEmptySubsequences: false)
            guard parts.count >= 3 else { continue }
            let path = String(parts[1])
            if path.hasPrefix("/"), !(path == allowed || path.hasPrefix(allowed + "/")) { return path }
        }
        return nil
    }
}
