import Foundation
import KmodguardCore
import KmodguardTestSupport
import Testing

/// `kmodguard next-boot` on grub.cfg files written by Debian's real grub-mkconfig.
@Suite struct NextBootCommandTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/grub")

    /// A scratch root with `boot/grub/grub.cfg` copied from a fixture.
    struct Root {
        let path: String
        init(grubConfig name: String?) throws {
            path = FileManager.default.temporaryDirectory.appendingPathComponent("kmodguard-nextboot-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: path + "/boot/grub", withIntermediateDirectories: true)
            if let name {
                try FileManager.default.copyItem(atPath: NextBootCommandTests.fixtures.appendingPathComponent(name + ".cfg").path,
                                                 toPath: path + "/boot/grub/grub.cfg")
            }
        }
        var grubenv: String { path + "/boot/grub/grubenv" }
        func remove() { try? FileManager.default.removeItem(atPath: path) }
    }

    static func expectations(_ name: String) throws -> [(String, String)] {
        let text = try String(contentsOf: fixtures.appendingPathComponent(name + ".expected"), encoding: .utf8)
        return text.split(separator: "\n").map { line in
            let fields = line.split(separator: "\t").map(String.init)
            return (fields.first ?? "", fields.last ?? "")
        }
    }

    @Test(arguments: ["two-kernels", "separate-boot", "no-submenu", "no-recovery", "version-order", "one-kernel"])
    func setsTheFullMenuPath(_ name: String) throws {
        let kmodguard = try #require(TestProcess.kmodguard())
        for (kernel, path) in try Self.expectations(name) {
            let root = try Root(grubConfig: name)
            defer { root.remove() }
            let result = try TestProcess.run(kmodguard, ["--root", root.path, "next-boot", kernel])
            #expect(result.status == 0, "\(String(decoding: result.stderr, as: UTF8.self))")
            #expect(String(decoding: result.stdout, as: UTF8.self).hasPrefix("next_entry=" + path + "\n"))
            let block = try GrubEnvBlock(Array(try Data(contentsOf: URL(fileURLWithPath: root.grubenv))))
            #expect(block.value("next_entry") == path)
            #expect(block.variables.count == 1)
            // What grub-editenv reads back is the same.
            let listed = try TestProcess.run("/usr/bin/grub-editenv", [root.grubenv, "list"])
            #expect(String(decoding: listed.stdout, as: UTF8.self) == "next_entry=" + path + "\n")
        }
    }

    @Test func keepsOtherVariables() throws {
        let kmodguard = try #require(TestProcess.kmodguard())
        let root = try Root(grubConfig: "two-kernels")
        defer { root.remove() }
        _ = try TestProcess.run("/usr/bin/grub-editenv", [root.grubenv, "set", "saved_entry=0", "kmodguard_last_good=6.1.0-55-cloud-amd64"])
        let result = try TestProcess.run(kmodguard, ["--root", root.path, "next-boot", "6.1.0-55-cloud-amd64"])
        #expect(result.status == 0)
        let listed = String(decoding: try TestProcess.run("/usr/bin/grub-editenv", [root.grubenv, "list"]).stdout, as: UTF8.self)
        #expect(listed.hasPrefix("saved_entry=0\nkmodguard_last_good=6.1.0-55-cloud-amd64\nnext_entry=gnulinux-advanced-"))
    }

    @Test func unknownKernelListsWhatIsThere() throws {
        let kmodguard = try #require(TestProcess.kmodguard())
        let root = try Root(grubConfig: "two-kernels")
        defer { root.remove() }
        let result = try TestProcess.run(kmodguard, ["--root", root.path, "next-boot", "6.1.0-99-cloud-amd64"])
        let stderr = String(decoding: result.stderr, as: UTF8.self)
        #expect(result.status != 0)
        #expect(stderr.contains("no GRUB menu entry boots kernel 6.1.0-99-cloud-amd64"))
        #expect(stderr.contains("kernels found: 6.1.0-56-cloud-amd64, 6.1.0-55-cloud-amd64"))
        #expect(!FileManager.default.fileExists(atPath: root.grubenv))
    }

    @Test func missingGrubConfigIsNamed() throws {
        let kmodguard = try #require(TestProcess.kmodguard())
        let root = try Root(grubConfig: nil)
        defer { root.remove() }
        let result = try TestProcess.run(kmodguard, ["--root", root.path, "next-boot", "6.1.0-55-cloud-amd64"])
        #expect(result.status != 0)
        #expect(String(decoding: result.stderr, as: UTF8.self).contains(root.path + "/boot/grub/grub.cfg: No such file or directory"))
    }

    @Test func invalidGrubenvIsLeftAlone() throws {
        let kmodguard = try #require(TestProcess.kmodguard())
        let root = try Root(grubConfig: "two-kernels")
        defer { root.remove() }
        let junk = Data(repeating: 0x41, count: 1024)
        try junk.write(to: URL(fileURLWithPath: root.grubenv))
        let result = try TestProcess.run(kmodguard, ["--root", root.path, "next-boot", "6.1.0-55-cloud-amd64"])
        #expect(result.status != 0)
        #expect(String(decoding: result.stderr, as: UTF8.self).contains("not a valid GRUB environment block"))
        #expect(FileManager.default.contents(atPath: root.grubenv) == junk)
    }

    @Test func everyCommandHasHelp() throws {
        let kmodguard = try #require(TestProcess.kmodguard())
        for command in [[], ["grubenv"], ["grubenv", "list"], ["grubenv", "set"], ["grubenv", "unset"], ["next-boot"]] {
            let result = try TestProcess.run(kmodguard, command + ["--help"])
            #expect(result.status == 0, "\(command)")
            #expect(String(decoding: result.stdout, as: UTF8.self).contains("USAGE: kmodguard"), "\(command)")
        }
    }
}
