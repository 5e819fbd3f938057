/// Whether this process can give a child new mount and network namespaces. Root on a host (or in
/// a privileged container) can; root in an unprivileged container cannot, and there a build that
/// asked for them would only fail with `unshare: … Operation not permitted`. Builds and dkms.conf
/// evaluations then run without the isolation (`DkmsPathView`, no network) rather than not at all.
package enum NamespaceSupport {
    /// Probed once per process: `unshare --mount --net true` as this process's user.
    package static let available: Bool = probe()

    package static func probe(runner: any ProcessRunning = LiveProcessRunner()) -> Bool {
        guard ProcessIdentity.isRoot, let unshare = findExecutable("unshare") else { return false }
        let result = try? runner.run(ExternalCommand(unshare, ["--mount", "--net", "--", "/bin/true"]))
        return result?.succeeded == true
    }
}
