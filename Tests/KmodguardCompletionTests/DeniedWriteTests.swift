import KmodguardCompletion
import Testing

@Suite struct DeniedWriteTests {
    /// west-chamber's MAKE, as the unprivileged build user (Debian 12, kmodguard's log).
    @Test func findsTheFirstWriteOutsideTheBuildTree() {
        let log = """
        make script …
        mkdir: cannot create directory '/var/lib/kmodguard/build/x/tmp': Permission denied
        ln: failed to create symbolic link '/usr/src/west-chamber-20100405/extensions/compat_xtables.c': Permission denied
        mkdir: cannot create directory '/usr/src/west-chamber-20100405/extensions/.tmp_1': Permission denied
        """
        #expect(DeniedWrite.firstOutside(log, allowed: "/var/lib/kmodguard/build/x")
            == "/usr/src/west-chamber-20100405/extensions/compat_xtables.c")
        #expect(DeniedWrite.firstOutside("cc1: error: x.c: Permission denied\n", allowed: "/b") == nil)
        #expect(DeniedWrite.firstOutside("", allowed: "/b") == nil)
    }
}
