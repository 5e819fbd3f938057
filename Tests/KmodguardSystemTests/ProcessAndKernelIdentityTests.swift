import Foundation
import KmodguardSystem
import Testing

/// Who and where this process is, as the CLI asks it.
@Suite struct ProcessAndKernelIdentityTests {
    @Test func processIdentityIsThisProcess() {
        #expect(ProcessIdentity.pid == getpid())
        #expect(ProcessIdentity.effectiveUserID == geteuid())
        #expect(ProcessIdentity.isRoot == (geteuid() == 0))
    }

    @Test func kernelIdentityIsUname() throws {
        let release = try String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8)
        #expect(KernelIdentity.release() == release.trimmingCharacters(in: .whitespacesAndNewlines))
        #if arch(x86_64)
        #expect(KernelIdentity.machine() == "x86_64")
        #elseif arch(arm64)
        #expect(KernelIdentity.machine() == "aarch64")
        #endif
    }

    @Test func relativePathsAreTakenFromTheCurrentDirectory() throws {
        let current = try WorkingDirectory.current()
        #expect(current == FileManager.default.currentDirectoryPath)
        #expect(WorkingDirectory.absolute("src/driver") == current + "/src/driver")
        #expect(WorkingDirectory.absolute("/usr/src") == "/usr/src")
    }

    @Test func resolvingFollowsEveryLink() throws {
        let scratch = try SystemScratch("resolve")
        defer { scratch.remove() }
        try scratch.file("real/file", "x")
        try scratch.symlink("link", to: "real")
        let real = try Links.resolved(scratch.path + "/real")
        #expect(try Links.resolved(scratch.path + "/link/./file") == real + "/file")
        #expect(try Links.resolved(scratch.path + "/link/../link") == real)
    }

    @Test(arguments: [
        // owner, group, permissions, as uid, as gid, may execute
        (UInt32(0), UInt32(0), UInt32(0o755), UInt32(65534), UInt32(65534), true),
        (0, 0, 0o750, 65534, 65534, false),
        (0, 65534, 0o750, 65534, 65534, true),
        (65534, 0, 0o611, 65534, 65534, false),
        (65534, 0, 0o700, 65534, 65534, true),
        (0, 0, 0o001, 65534, 0, false),
    ])
    func onlyTheClassOfBitsThatAppliesCounts(owner: UInt32, group: UInt32, permissions: UInt32, uid: UInt32, gid: UInt32,
                                             expected: Bool) {
        let status = FileStatus(kind: .directory, permissions: permissions, size: 0, owner: owner, group: group,
                                modified: FileStatus.Time(seconds: 0, nanoseconds: 0))
        #expect(status.executable(byUser: uid, group: gid) == expected)
    }

    @Test func timesOrderToTheNanosecond() {
        let early = FileStatus.Time(seconds: 10, nanoseconds: 999_999_999)
        let late = FileStatus.Time(seconds: 11, nanoseconds: 0)
        #expect(early < late)
        #expect(FileStatus.Time(seconds: 11, nanoseconds: 1) > late)
        #expect([late, early].max() == late)
    }

    @Test func isExecutableAsksTheKernel() throws {
        let scratch = try SystemScratch("exec")
        defer { scratch.remove() }
        let script = try scratch.file("run", "#!/bin/sh\n", mode: 0o755)
        #expect(FileAccess.isExecutable(script))
        #expect(!FileAccess.isExecutable(scratch.path + "/missing"))
        try FileAccess.setPermissions(script, 0o644)
        #expect(!FileAccess.isExecutable(script))
        #expect(try FileStatus.of(script).permissions == 0o644)
    }
}
