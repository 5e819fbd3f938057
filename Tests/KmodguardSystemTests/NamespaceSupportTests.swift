import Foundation
import KmodguardSystem
import Testing

/// The probe as root on this host, and as root without CAP_SYS_ADMIN (what an unprivileged
/// container gives): there it must say no instead of letting every build fail in `unshare`.
@Suite struct NamespaceSupportTests {
    /// Runs each command with CAP_SYS_ADMIN out of the bounding set (root's children lose it).
    struct WithoutSysAdmin: ProcessRunning {
        func run(_ command: ExternalCommand) throws(CommandLaunchError) -> CommandResult {
            var wrapped = ExternalCommand("/usr/bin/setpriv", ["--bounding-set=-sys_admin", "--", command.executable] + command.arguments)
            wrapped.timeoutSeconds = 30
            return try LiveProcessRunner().run(wrapped)
        }
    }

    @Test func onlyRootWithSysAdminMakesNamespaces() {
        guard ProcessIdentity.isRoot else {
            #expect(!NamespaceSupport.available && !NamespaceSupport.probe())
            return
        }
        #expect(NamespaceSupport.probe(), "root on this host must be able to unshare --mount --net")
        #expect(NamespaceSupport.available == NamespaceSupport.probe())
        #expect(!NamespaceSupport.probe(runner: WithoutSysAdmin()))
    }
}
