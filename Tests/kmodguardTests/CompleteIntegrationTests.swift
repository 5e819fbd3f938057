import Foundation
import KmodguardCore
import KmodguardTestSupport
import Testing

/// `kmodguard complete` and `status` end to end on a fixture root: real kernel module trees,
/// real headers, real builds of the fixture driver, the real guard checking the result.
@Suite(.enabled(if: BuilderInputs.fixtureAvailable || BuilderInputs.required, "needs KMODGUARD_FIXTURE_ROOT (scripts/test sets it)"))
struct CompleteIntegrationTests {
    /// A scratch root that booted the old kernel with the guard passing, with the fixture
    /// driver's source at /usr/src and a grub.cfg from Debian's real update-grub.
    struct Machine {
        let root: BuilderScratchRoot
        let source: String

        init(breakSource: Bool = false) throws {
            try BuilderInputs.requireFixture()
            root = try BuilderScratchRoot()
            let manager = FileManager.default
            source = root.path + "/usr/src/kmodguard-fixture-1.0"
            try manager.createDirectory(atPath: root.path + "/usr/src", withIntermediateDirectories: true)
            try manager.copyItem(atPath: BuilderInputs.fixtureModuleSource, toPath: source)
            if breakSource {
                let file = source + "/kmodguard_fixture.c"
                let text = try String(contentsOfFile: file, encoding: .utf8)
                try Data(("static int broken(void) { return undeclared_symbol_x; }\n" + text).utf8).write(to: URL(fileURLWithPath: file))
            }
            try manager.createDirectory(atPath: root.path + "/boot/grub", withIntermediateDirectories: true)
            for kernel in [root.old, root.new] {
                _ = manager.createFile(atPath: root.path + "/boot/vmlinuz-" + kernel, contents: Data())
            }
            var grub = try String(contentsOfFile: BuilderInputs.repository + "/Tests/Fixtures/grub/two-kernels.cfg", encoding: .utf8)
            grub = grub.replacingOccurrences(of: "6.1.0-56-cloud-amd64", with: "@NEW@").replacingOccurrences(of: "6.1.0-55-cloud-amd64", with: "@OLD@")
                .replacingOccurrences(of: "@NEW@", with: root.new).replacingOccurrences(of: "@OLD@", with: root.old)
            try Data(grub.utf8).write(to: URL(fileURLWithPath: root.path + "/boot/grub/grub.cfg"))
            try manager.createDirectory(atPath: root.path + "/run/kmodguard", withIntermediateDirectories: true)
            try Data("outcome=passed\nkernel=\(root.old)\n".utf8).write(to: URL(fileURLWithPath: root.path + "/run/kmodguard/early-result"))
            try Data("MODULES=\(root.module)\nSOURCE=/usr/src/kmodguard-fixture-1.0\nACTIVATE=reboot\n".utf8)
                .write(to: URL(fileURLWithPath: root.path + "/etc/kmodguard/kmodguard.conf"))
        }

        func kmodguard(_ arguments: [String]) throws -> ProcessResult {
            let binary = try #require(TestProcess.kmodguard())
            return try TestProcess.run(binary, ["--root", root.path] + arguments)
        }

        func grubenv() throws -> GrubEnvBlock {
            try GrubEnvBlock(Array(try Data(contentsOf: URL(fileURLWithPath: root.path + "/boot/grub/grubenv"))))
        }

        func entry(_ kernel: String) throws -> String {
            let menu = GrubMenu(parsing: Array(try Data(contentsOf: URL(fileURLWithPath: root.path + "/boot/grub/grub.cfg"))))
            let release = try #require(KernelRelease(kernel))
            return try #require(menu.entry(for: release)?.path)
        }

        func status() throws -> [String: Any] {
            let result = try kmodguard(["status", "--json", "--running", root.old])
            let object = try JSONSerialization.jsonObject(with: result.stdout)
            return try #require(object as? [String: Any])
        }
    }

    @Test func buildsForEveryKernelThenActivatesTheNewest() throws {
        let machine = try Machine()
        defer { machine.root.remove() }
        let result = try machine.kmodguard(["complete", "--running", machine.root.old, "--no-reboot"])
        let log = String(decoding: result.stderr, as: UTF8.self)
        #expect(result.status == 0, "\(log)")
        for kernel in [machine.root.old, machine.root.new] {
            #expect(machine.root.installed(kernel) == [machine.root.module + ".ko"], "\(kernel)")
            let guardRun = try machine.root.runGuard(kernel: kernel, modules: [machine.root.module])
            #expect(guardRun.status == 0, "\(kernel): \(guardRun.stderr)")
        }
        let env = try machine.grubenv()
        #expect(env.value("kmodguard_last_good") == machine.root.old)
        #expect(env.value("next_entry") == (try machine.entry(machine.root.new)))
        #expect(env.value("kmodguard_trial") == "armed")
        #expect(env.value("kmodguard_trial_kernel") == machine.root.new)
        #expect(env.value("kmodguard_pin") == nil)
        let status = try machine.status()
        #expect(status["ok"] as? Bool == true, "\(status)")
    }

    @Test func compileErrorPinsShowsTheErrorAndIsNotRetried() throws {
        let machine = try Machine(breakSource: true)
        defer { machine.root.remove() }
        let first = try machine.kmodguard(["complete", "--running", machine.root.old, "--no-reboot"])
        #expect(first.status == 1)
        #expect(machine.root.installed(machine.root.new).isEmpty)
        #expect(try machine.grubenv().value("kmodguard_pin") == (try machine.entry(machine.root.old)))
        #expect(try machine.grubenv().value("next_entry") == nil)

        let status = try machine.status()
        #expect(status["ok"] as? Bool == false)
        let kernels = try #require(status["kernels"] as? [[String: Any]])
        let newer = try #require(kernels.first { $0["release"] as? String == machine.root.new })
        #expect(newer["driver"] as? String == "failed")
        let firstError = try #require(newer["firstError"] as? String)
        #expect(firstError.contains("error:") && firstError.contains("undeclared_symbol_x"), "\(firstError)")
        let logPath = try #require(newer["log"] as? String)
        #expect(FileManager.default.fileExists(atPath: logPath))
        let text = String(decoding: try machine.kmodguard(["status", "--running", machine.root.old]).stdout, as: UTF8.self)
        #expect(text.hasPrefix("kmodguard: ATTENTION: "))
        #expect(text.contains("first error: "))

        // The next boot's run: nothing changed, so no rebuild (the log is not rewritten).
        let logBefore = try FileManager.default.attributesOfItem(atPath: logPath)[.modificationDate] as? Date
        let second = try machine.kmodguard(["complete", "--running", machine.root.old, "--no-reboot"])
        #expect(String(decoding: second.stderr, as: UTF8.self).contains("not retrying"))
        #expect(try FileManager.default.attributesOfItem(atPath: logPath)[.modificationDate] as? Date == logBefore)

        // Fixing the source in place is a change, although the folder keeps its NAME-VERSION
        // (the version DKMS and kmodguard build under): built, pin cleared.
        try FileManager.default.removeItem(atPath: machine.source + "/kmodguard_fixture.c")
        try FileManager.default.copyItem(atPath: BuilderInputs.fixtureModuleSource + "/kmodguard_fixture.c", toPath: machine.source + "/kmodguard_fixture.c")
        let third = try machine.kmodguard(["complete", "--running", machine.root.old, "--no-reboot"])
        #expect(third.status == 0, "\(String(decoding: third.stderr, as: UTF8.self))")
        #expect(try machine.grubenv().value("kmodguard_pin") == nil)
        #expect(machine.root.installed(machine.root.new) == [machine.root.module + ".ko"])
    }

    /// `grub-reboot` into a kernel that lacks its driver, then a shutdown: GRUB honours
    /// next_entry before the pin, so prepare-shutdown must clear it as well as pin.
    @Test func shutdownClearsANextEntryThatWouldBootAKernelWithoutItsDriver() throws {
        let machine = try Machine()
        defer { machine.root.remove() }
        let newEntry = try machine.entry(machine.root.new)
        let set = try machine.kmodguard(["grubenv", "set", "next_entry=" + newEntry, "saved_entry=0"])
        #expect(set.status == 0, "\(String(decoding: set.stderr, as: UTF8.self))")
        let result = try machine.kmodguard(["prepare-shutdown", "--running", machine.root.old])
        let log = String(decoding: result.stderr, as: UTF8.self)
        #expect(result.status == 0, "\(log)")
        let env = try machine.grubenv()
        #expect(env.value("next_entry") == nil, "\(log)")
        #expect(env.value("kmodguard_pin") == (try machine.entry(machine.root.old)))
        #expect(env.value("saved_entry") == "0")
        #expect(log.contains("pinned"))

        // Run again: nothing left to change, the pin stays.
        let again = try machine.kmodguard(["prepare-shutdown", "--running", machine.root.old])
        #expect(again.status == 0)
        #expect(try machine.grubenv() == env)
    }
}
