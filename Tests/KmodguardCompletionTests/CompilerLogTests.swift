import KmodguardCompletion
import Testing

/// `CompilerLog.firstError` on logs captured from real builds of the fixture module and of
/// Debian's dm-writeboost against linux-headers-6.1.0-55-cloud-amd64 (gcc 12, LANG=C).
@Suite struct CompilerLogTests {
    @Test func compilerErrorInAHeaderComesFirst() {
        // The include chain and the notes precede it; later errors and warnings follow.
        #expect(CompilerLog.firstError(Self.syntaxError)
            == "/usr/src/linux-headers-6.1.0-55-common/include/linux/moduleparam.h:403:9: error: expected ',' or ';' before 'static'")
    }

    @Test func fatalErrorForAMissingHeader() {
        #expect(CompilerLog.firstError(Self.missingHeader)
            == "/tmp/cap/header/kmodguard_fixture.c:10:10: fatal error: linux/no_such_header.h: No such file or directory")
    }

    @Test func modpostUndefinedSymbol() {
        #expect(CompilerLog.firstError(Self.undefinedSymbol)
            == #"ERROR: modpost: "kmodguard_no_such_symbol" [/tmp/cap/modpost/kmodguard_fixture.ko] undefined!"#)
    }

    @Test func makeLineWhenNoCompilerRan() {
        #expect(CompilerLog.firstError(Self.missingSource)
            == "make[2]: *** No rule to make target '/tmp/cap/missing/kmodguard_fixture.o', needed by '/tmp/cap/missing/'.  Stop.")
    }

    @Test func verboseCommandLinesWithWerrorAreNotErrors() {
        // V=1 prints every gcc command line (full of -Werror=…) before the diagnostics.
        #expect(CompilerLog.firstError(Self.verboseWerror)
            == "/tmp/cap/wb/dm-writeboost-daemon.c:146:19: error: expected expression before ';' token")
    }

    @Test func missingToolInsideMake() {
        let log = """
            make -C /lib/modules/6.1.0-55-cloud-amd64/build M=/tmp/cap/nf modules
            make[1]: Entering directory '/usr/src/linux-headers-6.1.0-55-cloud-amd64'
              CC [M]  /tmp/cap/nf/kmodguard_fixture.o
            /bin/sh: 1: gcc-99: not found
            make[2]: *** [/usr/src/linux-headers-6.1.0-55-common/scripts/Makefile.build:255: /tmp/cap/nf/kmodguard_fixture.o] Error 127
            make[1]: *** [/usr/src/linux-headers-6.1.0-55-common/Makefile:2065: /tmp/cap/nf] Error 2
            make[1]: Leaving directory '/usr/src/linux-headers-6.1.0-55-cloud-amd64'
            make: *** [Makefile:22: modules] Error 2
            """
        #expect(CompilerLog.firstError(log) == "/bin/sh: 1: gcc-99: not found")
        #expect(CompilerLog.firstError("/bin/sh: 1: make: not found\n") == "/bin/sh: 1: make: not found")
    }

    @Test func makeWithoutTargets() {
        // What DKMS's `make KERNELRELEASE=…` does to a Makefile with the usual
        // `ifneq ($(KERNELRELEASE),)` guard.
        #expect(CompilerLog.firstError("make: *** No targets.  Stop.\n") == "make: *** No targets.  Stop.")
    }

    @Test func driverAndUtf8Diagnostics() {
        #expect(CompilerLog.firstError("gcc-12: fatal error: no input files\ncompilation terminated.\n")
            == "gcc-12: fatal error: no input files")
        #expect(CompilerLog.firstError("x.c:3:1: error: unknown type name ‘foo’\r\n") == "x.c:3:1: error: unknown type name ‘foo’")
    }

    @Test func successfulAndNoiseLogsHaveNoError() {
        let built = """
            make -C /lib/modules/6.1.0-55-cloud-amd64/build M=/tmp/cap/ok modules
              CC [M]  /tmp/cap/ok/dm-writeboost-target.o
              LD [M]  /tmp/cap/ok/dm-writeboost.ko
              BTF [M] /tmp/cap/ok/dm-writeboost.ko
            Skipping BTF generation for /tmp/cap/ok/dm-writeboost.ko due to unavailability of vmlinux
            """
        #expect(CompilerLog.firstError(built) == nil)
        #expect(CompilerLog.firstError("") == nil)
        #expect(CompilerLog.firstError("cc1: some warnings being treated as errors\n") == nil)
        #expect(CompilerLog.firstError("x.c:1:2: warning: \"error: quoted\" [-Wcpp]\n") == nil)
        #expect(CompilerLog.firstError("echo 'a b: error: c'\n") == nil)
    }

    static let syntaxError = #"""
    make -C /lib/modules/6.1.0-55-cloud-amd64/build M=/tmp/cap/syntax modules
    make[1]: Entering directory '/usr/src/linux-headers-6.1.0-55-cloud-amd64'
      CC [M]  /tmp/cap/syntax/kmodguard_fixture.o
    In file included from /usr/src/linux-headers-6.1.0-55-common/include/linux/module.h:22,
                     from /tmp/cap/syntax/kmodguard_fixture.c:12:
    /usr/src/linux-headers-6.1.0-55-common/include/linux/moduleparam.h:403:9: error: expected ',' or ';' before 'static'
      403 |         static inline type __always_unused *__check_##name(void) { return(p); }
          |         ^~~~~~
    /usr/src/linux-headers-6.1.0-55-common/include/linux/moduleparam.h:456:36: note: in expansion of macro '__param_check'
      456 | #define param_check_charp(name, p) __param_check(name, p, char *)
          |                                    ^~~~~~~~~~~~~
    /usr/src/linux-headers-6.1.0-55-common/include/linux/moduleparam.h:150:9: note: in expansion of macro 'param_check_charp'
      150 |         param_check_##type(name, &(value));                                \
          |         ^~~~~~~~~~~~
    /usr/src/linux-headers-6.1.0-55-common/include/linux/moduleparam.h:127:9: note: in expansion of macro 'module_param_named'
      127 |         module_param_named(name, name, type, perm)
          |         ^~~~~~~~~~~~~~~~~~
    /tmp/cap/syntax/kmodguard_fixture.c:17:1: note: in expansion of macro 'module_param'
       17 | module_param(greeting, charp, 0444);
          | ^~~~~~~~~~~~
    /tmp/cap/syntax/kmodguard_fixture.c: In function 'kmodguard_fixture_init':
    /tmp/cap/syntax/kmodguard_fixture.c:22:17: error: 'undefined_thing' undeclared (first use in this function)
       22 |         int x = undefined_thing;
          |                 ^~~~~~~~~~~~~~~
    /tmp/cap/syntax/kmodguard_fixture.c:22:17: note: each undeclared identifier is reported only once for each function it appears in
    /tmp/cap/syntax/kmodguard_fixture.c:22:13: warning: unused variable 'x' [-Wunused-variable]
       22 |         int x = undefined_thing;
          |             ^
    /tmp/cap/syntax/kmodguard_fixture.c: At top level:
    /tmp/cap/syntax/kmodguard_fixture.c:15:12: warning: 'unused_var' defined but not used [-Wunused-variable]
       15 | static int unused_var;
          |            ^~~~~~~~~~
    make[2]: *** [/usr/src/linux-headers-6.1.0-55-common/scripts/Makefile.build:255: /tmp/cap/syntax/kmodguard_fixture.o] Error 1
    make[1]: *** [/usr/src/linux-headers-6.1.0-55-common/Makefile:2065: /tmp/cap/syntax] Error 2
    make[1]: Leaving directory '/usr/src/linux-headers-6.1.0-55-cloud-amd64'
    make: *** [Makefile:22: modules] Error 2
    """#

    static let missingHeader = #"""
    make -C /lib/modules/6.1.0-55-cloud-amd64/build M=/tmp/cap/header modules
    make[1]: Entering directory '/usr/src/linux-headers-6.1.0-55-cloud-amd64'
      CC [M]  /tmp/cap/header/kmodguard_fixture.o
    /tmp/cap/header/kmodguard_fixture.c:10:10: fatal error: linux/no_such_header.h: No such file or directory
       10 | #include <linux/no_such_header.h>
          |          ^~~~~~~~~~~~~~~~~~~~~~~~
    compilation terminated.
    make[2]: *** [/usr/src/linux-headers-6.1.0-55-common/scripts/Makefile.build:255: /tmp/cap/header/kmodguard_fixture.o] Error 1
    make[1]: *** [/usr/src/linux-headers-6.1.0-55-common/Makefile:2065: /tmp/cap/header] Error 2
    make[1]: Leaving directory '/usr/src/linux-headers-6.1.0-55-cloud-amd64'
    make: *** [Makefile:22: modules] Error 2
    """#

    static let undefinedSymbol = #"""
    make -C /lib/modules/6.1.0-55-cloud-amd64/build M=/tmp/cap/modpost modules
    make[1]: Entering directory '/usr/src/linux-headers-6.1.0-55-cloud-amd64'
      MODPOST /tmp/cap/modpost/Module.symvers
    ERROR: modpost: "kmodguard_no_such_symbol" [/tmp/cap/modpost/kmodguard_fixture.ko] undefined!
    make[2]: *** [/usr/src/linux-headers-6.1.0-55-common/scripts/Makefile.modpost:127: /tmp/cap/modpost/Module.symvers] Error 1
    make[1]: *** [/usr/src/linux-headers-6.1.0-55-common/Makefile:2017: modpost] Error 2
    make[1]: Leaving directory '/usr/src/linux-headers-6.1.0-55-cloud-amd64'
    make: *** [Makefile:22: modules] Error 2
    """#

    static let missingSource = #"""
    make -C /lib/modules/6.1.0-55-cloud-amd64/build M=/tmp/cap/missing modules
    make[1]: Entering directory '/usr/src/linux-headers-6.1.0-55-cloud-amd64'
    make[2]: *** No rule to make target '/tmp/cap/missing/kmodguard_fixture.o', needed by '/tmp/cap/missing/'.  Stop.
    make[1]: *** [/usr/src/linux-headers-6.1.0-55-common/Makefile:2065: /tmp/cap/missing] Error 2
    make[1]: Leaving directory '/usr/src/linux-headers-6.1.0-55-cloud-amd64'
    make: *** [Makefile:22: modules] Error 2
    """#

    static let verboseWerror = #"""
    make -C /lib/modules/6.1.0-55-cloud-amd64/build M=/tmp/cap/wb modules
    make[1]: Entering directory '/usr/src/linux-headers-6.1.0-55-cloud-amd64'
    make -f /usr/src/linux-headers-6.1.0-55-common/scripts/Makefile.build obj=/tmp/cap/wb need-builtin=1 need-modorder=1 
       gcc-12 -Wp,-MMD,/tmp/cap/wb/.dm-writeboost-daemon.o.d -nostdinc -I/usr/src/linux-headers-6.1.0-55-common/arch/x86/include -I./arch/x86/include/generated -I/usr/src/linux-headers-6.1.0-55-common/include -I./include -I/usr/src/linux-headers-6.1.0-55-common/arch/x86/include/uapi -I./arch/x86/include/generated/uapi -I/usr/src/linux-headers-6.1.0-55-common/include/uapi -I./include/generated/uapi -include /usr/src/linux-headers-6.1.0-55-common/include/linux/compiler-version.h -include /usr/src/linux-headers-6.1.0-55-common/include/linux/kconfig.h -include /usr/src/linux-headers-6.1.0-55-common/include/linux/compiler_types.h -D__KERNEL__ -fmacro-prefix-map=/usr/src/linux-headers-6.1.0-55-common/= -Wall -Wundef -Werror=strict-prototypes -Wno-trigraphs -fno-strict-aliasing -fno-common -fshort-wchar -fno-PIE -Werror=implicit-function-declaration -Werror=implicit-int -Werror=return-type -Wno-format-security -std=gnu11 -mno-sse -mno-mmx -mno-sse2 -mno-3dnow -mno-avx -fcf-protection=none -m64 -falign-jumps=1 -falign-loops=1 -mno-80387 -mno-fp-ret-in-387 -mpreferred-stack-boundary=3 -mskip-rax-setup -mtune=generic -mno-red-zone -mcmodel=kernel -Wno-sign-compare -fno-asynchronous-unwind-tables -mindirect-branch=thunk-extern -mindirect-branch-register -mindirect-branch-cs-prefix -mfunction-return=thunk-extern -fno-jump-tables -mharden-sls=all -fno-delete-null-pointer-checks -Wno-frame-address -Wno-format-truncation -Wno-format-overflow -Wno-address-of-packed-member -O2 -fno-allow-store-data-races -Wframe-larger-than=2048 -fstack-protector-strong -Wno-main -Wno-unused-but-set-variable -Wno-unused-const-variable -Wno-dangling-pointer -ftrivial-auto-var-init=zero -fno-stack-clash-protection -pg -mrecord-mcount -mfentry -DCC_USING_FENTRY -Wvla -Wno-pointer-sign -Wcast-function-type -Wno-stringop-truncation -Wno-stringop-overflow -Wno-restrict -Wno-maybe-uninitialized -Wno-array-bounds -Wno-alloc-size-larger-than -Wimplicit-fallthrough=5 -fno-strict-overflow -fno-stack-check -fconserve-stack -Werror=date-time -Werror=incompatible-pointer-types -Werror=designated-init -fno-builtin-wcslen -Wno-packed-not-aligned -g  -DMODULE  -DKBUILD_BASENAME='"dm_writeboost_daemon"' -DKBUILD_MODNAME='"dm_writeboost"' -D__KBUILD_MODNAME=kmod_dm_writeboost -c -o /tmp/cap/wb/dm-writeboost-daemon.o /tmp/cap/wb/dm-writeboost-daemon.c   ; ./tools/objtool/objtool --hacks=jump_label --hacks=noinstr --orc --retpoline --rethunk --sls --static-call --uaccess   --module /tmp/cap/wb/dm-writeboost-daemon.o
    /tmp/cap/wb/dm-writeboost-daemon.c: In function 'flush_daemon_proc':
    /tmp/cap/wb/dm-writeboost-daemon.c:146:19: error: expected expression before ';' token
      146 |         return 0 +;
          |                   ^
    /tmp/cap/wb/dm-writeboost-daemon.c:147:1: error: control reaches end of non-void function [-Werror=return-type]
      147 | }
          | ^
    cc1: some warnings being treated as errors
    make[2]: *** [/usr/src/linux-headers-6.1.0-55-common/scripts/Makefile.build:255: /tmp/cap/wb/dm-writeboost-daemon.o] Error 1
    make[1]: *** [/usr/src/linux-headers-6.1.0-55-common/Makefile:2065: /tmp/cap/wb] Error 2
    make[1]: Leaving directory '/usr/src/linux-headers-6.1.0-55-cloud-amd64'
    make: *** [Makefile:11: all] Error 2
    """#
}
