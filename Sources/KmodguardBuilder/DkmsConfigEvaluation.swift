import Foundation
package import KmodguardCompletion
import KmodguardCore
package import KmodguardSystem

/// Evaluates a dkms.conf as DKMS 3.0.10 does: sourced by bash with DKMS's variables set for one
/// kernel (`DkmsConfigScript`), then read back (`declare -p` → `ShellDeclarations` →
/// `DkmsConfig.read`). The file is code: it runs as the build user, under `env -i` (a clean,
/// fixed environment), with a time limit, from the source directory, and — when kmodguard runs
/// as root where namespaces are allowed (`NamespaceSupport`) — in a network namespace of its own
/// (`unshare --net`: no network at all).
package struct DkmsConfigEvaluation: Sendable {
    package var runner: any ProcessRunning = LiveProcessRunner()
    package var user: BuildUser? = BuildUser.defaultForThisProcess
    package var timeoutSeconds = 60
    package var isolateNetwork = NamespaceSupport.available

    /// The values DKMS has set when it sources the file.
    package struct Context: Sendable {
        package var kernel: String
        package var architecture: String
        /// `$kernel_source_dir`: `/lib/modules/K/build` (under the root).
        package var kernelSourceDirectory: String
        package var dkmsTree: String
        /// `$source_tree`: the directory holding the source (DKMS: /usr/src).
        package var sourceTree: String
        /// `$module` / `$module_version`: DKMS's `-m` / `-v`.
        package var module: String
        package var moduleVersion: String
    }

    package func evaluate(_ configFile: String, in directory: String, context: Context) throws(DriverSourceError) -> DkmsConfig {
        let variables: [(String, String)] = [
            ("kernelver", context.kernel),
            ("arch", context.architecture),
            ("kernel_source_dir", context.kernelSourceDirectory),
            ("kernel_config", context.kernelSourceDirectory + "/.config"),
            ("dkms_tree", context.dkmsTree),
            ("source_tree", context.sourceTree),
            ("install_tree", "/lib/modules"),
            ("tmp_location", "/tmp"),
            ("module", context.module),
            ("module_version", context.moduleVersion),
        ]
        let script = DkmsConfigScript.script(configFile: configFile, variables: variables)
        var chain: [String] = []
        if isolateNetwork { chain += ["/usr/bin/unshare", "--net", "--"] }
        if let user {
            chain += ["/usr/bin/setpriv", "--reuid=" + String(user.uid), "--regid=" + String(user.gid), "--clear-groups",
                      "--no-new-privs", "--"]
        }
        chain += ["/usr/bin/env", "-i", "PATH=" + BuildProcess.path, "HOME=/nonexistent", "LANG=C", "LC_ALL=C",
                  "PWD=" + directory, "/bin/bash", "--noprofile", "--norc", "-c", script, "dkms.conf"]
        var command = ExternalCommand(chain[0], Array(chain.dropFirst()))
        command.workingDirectory = directory
        command.timeoutSeconds = timeoutSeconds
        let result: CommandResult
        do {
            result = try runner.run(command)
        } catch {
            throw .evaluationFailed(file: configFile, reason: error.description)
        }
        if result.timedOut {
            throw .evaluationFailed(file: configFile, reason: "bash did not finish sourcing it in " + String(timeoutSeconds) + " s")
        }
        guard result.status == 0, let text = DkmsConfigScript.declarations(inOutput: result.output) else {
            throw .evaluationFailed(file: configFile, reason: "bash exited with status " + String(result.status) + ": "
                + result.output.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let declared: [String: ShellValue]
        do {
            declared = try ShellDeclarations.parse(text)
        } catch {
            throw .evaluationFailed(file: configFile, reason: error.description)
        }
        do {
            return try DkmsConfig.read(declared, kernel: context.kernel, matches: ExtendedRegex.matches)
        } catch {
            throw .invalidConfig(file: configFile, error)
        }
    }
}
