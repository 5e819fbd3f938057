package import KmodguardSystem
/// A generator or lister program and where it runs: on the host, or chrooted into the root whose
/// images it handles (a root other than `/` has its own generator and configuration; running the
/// host's would build the host's idea of an image).
package struct InitramfsTool: Equatable, Sendable, CustomStringConvertible {
    /// The program's path as the program itself sees it (inside `chroot` when that is set).
    package var path: String
    /// Run under `chroot` into this directory; nil runs on the host.
    package var chroot: String?

    package init(_ path: String, chroot: String? = nil) {
        self.path = path
        self.chroot = chroot
    }

    package var description: String { chroot.map { "chroot " + $0 + " " + path } ?? path }

    /// The command that runs the tool with `arguments` (already translated with `visiblePath`).
    package func command(_ arguments: [String]) -> ExternalCommand {
        guard let chroot else { return ExternalCommand(path, arguments) }
        return ExternalCommand("/usr/sbin/chroot", [chroot, path] + arguments)
    }

    /// `hostPath` as the tool sees it, or nil when a chrooted tool cannot reach it.
    package func visiblePath(_ hostPath: String) -> String? {
        guard let chroot else { return hostPath }
        if hostPath == chroot { return "/" }
        guard hostPath.hasPrefix(chroot + "/") else { return nil }
        return String(hostPath.dropFirst(chroot.count))
    }
}
