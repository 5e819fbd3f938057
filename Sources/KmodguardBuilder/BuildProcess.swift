import Foundation
package import KmodguardSystem

/// How a build step is started: under `systemd-inhibit` (a reboot or suspend must not cut a
/// build of the driver the next boot needs), as the build user, with a clean, fixed environment
/// (the caller's `KERNELRELEASE`, `M`, `KDIR`, `MAKEFLAGS`… would change what the Makefile does),
/// from inside the build directory.
///
/// The chain is `[timeout] [systemd-inhibit …] [unshare … view] [setpriv …] env -i … COMMAND`:
/// the inhibitor lock and the mounts of `DkmsPathView` need root, so `setpriv` comes after them
/// and `ExternalCommand.user` (which would wrap `systemd-inhibit` itself) is not used; `timeout`
/// (the runner's) stays outermost so it kills the whole process group.
package struct BuildProcess: Sendable {
    package var user: BuildUser?
    /// `systemd-inhibit`, when this host runs systemd with a system bus; nil otherwise.
    package var inhibitor: String?
    /// The whole environment of the build (besides `PWD`).
    package var environment: [String: String]
    /// DKMS's fixed paths shown as the build directory (as root only: it mounts).
    package var view: DkmsPathView?

    package init(user: BuildUser?, inhibitor: String?, environment: [String: String], view: DkmsPathView? = nil) {
        self.user = user
        self.inhibitor = inhibitor
        self.environment = environment
        self.view = view
    }

    package static let path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// `systemd-inhibit` if systemd is PID 1 here (`/run/systemd/system`) and the system bus it
    /// talks to exists; outside that (containers, chroots, initramfs) it would only fail.
    package static func detectInhibitor() -> String? {
        guard Files.exists("/run/systemd/system"), Files.exists("/run/dbus/system_bus_socket") else {
            return nil
        }
        return findExecutable("systemd-inhibit")
    }

    /// The base environment: C locale (so diagnostics are stable for `CompilerLog`), a standard
    /// `PATH`, `HOME` in the scratch tree, `MAKEFLAGS=-jN`.
    package static func environment(home: String, jobs: Int, compiler: String?) -> [String: String] {
        var environment = ["PATH": path, "HOME": home, "LANG": "C", "LC_ALL": "C", "MAKEFLAGS": "-j" + String(max(1, jobs))]
        if let compiler { environment["CC"] = compiler }
        return environment
    }

    /// The command running `argv` in `directory`, output appended to `log`. `why` (shown by
    /// `systemd-inhibit --list`) requests the shutdown/sleep lock.
    package func command(_ argv: [String], in directory: String, log: String, timeoutSeconds: Int? = nil, why: String? = nil) -> ExternalCommand {
        var chain: [String] = []
        if let why, let inhibitor {
            chain += [inhibitor, "--what=shutdown:sleep", "--who=kmodguard", "--why=" + why, "--mode=block"]
        }
        if let view { chain += view.prefix }
        if let user {
            chain += ["/usr/bin/setpriv", "--reuid=" + String(user.uid), "--regid=" + String(user.gid), "--clear-groups", "--no-new-privs", "--"]
        }
        chain += ["/usr/bin/env", "-i"]
        var variables = environment
        variables["PWD"] = directory
        chain += variables.sorted { $0.key < $1.key }.map { $0.key + "=" + $0.value }
        chain += argv
        var command = ExternalCommand(chain[0], Array(chain.dropFirst()))
        command.workingDirectory = directory
        command.logFile = log
        command.timeoutSeconds = timeoutSeconds
        return command
    }

    /// `value` as one single-quoted shell word.
    package static func shellQuoted(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
