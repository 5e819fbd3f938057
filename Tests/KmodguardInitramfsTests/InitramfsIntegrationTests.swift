import Foundation
import KmodguardCore
import Testing
@testable import KmodguardInitramfs

/// `Initramfs.rebuild` with the real generators for a real Debian kernel: initramfs-tools as
/// installed here, and dracut extracted from its .deb (scripts/lib/dracut.sh). The fixture driver
/// sits in the host's `/lib/modules/K/updates/kmodguard/` during each test; images go to a
/// scratch directory, never /boot.
@Suite(.serialized, .enabled(if: InitramfsHost.required, InitramfsHost.disabledReason))
struct InitramfsIntegrationTests {
    /// One rebuild in a scratch image directory holding an old image and a stale temporary file.
    struct Run {
        let kernel: KernelRelease
        let images: String
        let initramfs: Initramfs
        let oldImage = Array("the old image, which must survive any failure\n".utf8)
        var image: String { initramfs.imagePath(for: kernel) }

        init(kernel: String, generator: (String, String) throws -> Initramfs) throws {
            self.kernel = try #require(KernelRelease(kernel))
            images = FileManager.default.temporaryDirectory.appendingPathComponent("kmodguard-images-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: images + "/boot", withIntermediateDirectories: true)
            initramfs = try generator(images + "/boot", images + "/logs")
            try Data(oldImage).write(to: URL(fileURLWithPath: image))
            try Data("left by an interrupted run".utf8).write(to: URL(fileURLWithPath: image + ".kmodguard-new"))
        }

        func strayFiles() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: images + "/boot")) ?? []).filter { $0 != URL(fileURLWithPath: image).lastPathComponent }
        }

        func remove() {
            if InitramfsHost.keep {
                print("kept \(images)")
            } else {
                try? FileManager.default.removeItem(atPath: images)
            }
        }
    }

    /// Runs `body` with the fixture driver installed on the host and a sandbox, then undoes both.
    func withHostModule(hook: Bool, dracut: String? = nil, _ body: (InitramfsHost.Prepared, InitramfsSandbox) throws -> Void) throws {
        let prepared = try InitramfsHost.prepared.get()
        let lock = try InitramfsHost.lock()
        defer { InitramfsHost.unlock(lock) }
        let module = try InitramfsHostModule(prepared.builtModule, kernel: prepared.kernel)
        defer { module.remove() }
        let sandbox = try InitramfsSandbox(early: prepared.early, hook: hook, dracut: dracut)
        defer { sandbox.remove() }
        try body(prepared, sandbox)
    }

    static var hookInRepository: Bool {
        FileManager.default.fileExists(atPath: InitramfsHost.repository + "/initramfs-tools/hooks/kmodguard")
    }

    @Test func initramfsToolsPutsTheRebuiltDriverIn() throws {
        try withHostModule(hook: true) { prepared, sandbox in
            let run = try Run(kernel: prepared.kernel) { images, logs in
                // The host's generator as detected, with mkinitramfs entered through the sandbox.
                var generator = try InitramfsGenerator.detect(root: SystemRoot("/"), environment: [:])
                #expect(generator.kind == .initramfsTools)
                generator.builder = InitramfsTool(sandbox.bin + "/mkinitramfs")
                return Initramfs(root: SystemRoot("/"), generator: generator, imageDirectory: images, logDirectory: logs)
            }
            defer { run.remove() }
            guard Self.hookInRepository else {
                // Without kmodguard's hook the module cannot be in the image: verification says so.
                try expectMissingModule(run)
                return
            }
            try expectRebuilt(run, kernel: prepared.kernel, label: "initramfs-tools")
        }
    }

    @Test func initramfsToolsWithoutTheHookKeepsTheOldImage() throws {
        try withHostModule(hook: false) { prepared, sandbox in
            let run = try Run(kernel: prepared.kernel) { images, logs in
                var generator = try InitramfsGenerator.detect(root: SystemRoot("/"), environment: [:])
                generator.builder = InitramfsTool(sandbox.bin + "/mkinitramfs")
                return Initramfs(root: SystemRoot("/"), generator: generator, imageDirectory: images, logDirectory: logs)
            }
            defer { run.remove() }
            try expectMissingModule(run)
        }
    }

    @Test func extractedDracutPutsTheRebuiltDriverIn() throws {
        let dracut = try InitramfsIntegrationTests.extractedDracut()
        try withHostModule(hook: true, dracut: dracut) { prepared, sandbox in
            let run = try Run(kernel: prepared.kernel) { images, logs in
                try Initramfs.detect(root: SystemRoot("/"), generator: .dracut,
                                     environment: [InitramfsGenerator.dracutVariable: sandbox.bin + "/dracut"],
                                     imageDirectory: images, logDirectory: logs)
            }
            defer { run.remove() }
            #expect(run.initramfs.generator.lister == InitramfsTool(sandbox.bin + "/lsinitrd"))
            guard FileManager.default.fileExists(atPath: InitramfsHost.repository + "/dracut/90kmodguard/module-setup.sh") else {
                try expectMissingModule(run)
                return
            }
            try expectRebuilt(run, kernel: prepared.kernel, label: "dracut")
        }
    }

    /// `KMODGUARD_DRACUT`, else dracut extracted by scripts/lib/dracut.sh.
    static func extractedDracut() throws -> String {
        if let dracut = InitramfsHost.environment[InitramfsGenerator.dracutVariable], !dracut.isEmpty { return dracut }
        let output = try InitramfsHost.shell(". \"$0\"/scripts/lib/common.sh && . \"$0\"/scripts/lib/dracut.sh && dracut_extracted",
                                             [InitramfsHost.repository])
        return try #require(output.split(separator: "\n").last.map(String.init))
    }

    func expectRebuilt(_ run: Run, kernel: String, label: String) throws {
        let result = try run.initramfs.rebuild(kernel: run.kernel, requiredModules: ["kmodguard-fixture"])
        print("\(label): rebuilt \(result.image) for \(kernel) in \(String(format: "%.1f", result.generatorSeconds)) s"
            + " (verified in \(String(format: "%.2f", result.verifySeconds)) s), \(result.size) bytes; log \(result.log)")
        #expect(result.modules["kmodguard-fixture"] == "usr/lib/modules/\(kernel)/updates/kmodguard/kmodguard_fixture.ko")
        #expect(result.replacedExisting)
        #expect(result.size > 1_000_000)
        let bytes = try #require(FileManager.default.contents(atPath: run.image))
        #expect(bytes.count == result.size)
        #expect(Array(bytes) != run.oldImage)
        #expect(run.strayFiles() == [])
        // What `kmodguard status` asks about the installed image.
        let check = try run.initramfs.contains(image: run.image, modules: ["kmodguard_fixture", "virtio_blk"], kernel: run.kernel)
        #expect(check.isComplete, "\(check)")
        let log = try String(contentsOfFile: result.log, encoding: .utf8)
        #expect(log.contains("kmodguard: " + run.initramfs.generator.kind.builderName + " exited with status 0 after "))
        #expect(log.contains("kmodguard: installed " + run.image))
    }

    func expectMissingModule(_ run: Run) throws {
        let failure = try expectFailure { try run.initramfs.rebuild(kernel: run.kernel, requiredModules: ["kmodguard-fixture"]) }
        print("\(run.initramfs.generator.kind): as expected, \(failure)")
        guard case .modulesMissing(_, let image, let existed, let check, _, _, _, _, let log) = failure else {
            Issue.record("unexpected \(failure)")
            return
        }
        #expect(image == run.image && existed)
        #expect(check.missing == ["kmodguard-fixture"])
        #expect(FileManager.default.contents(atPath: run.image).map(Array.init) == run.oldImage)
        #expect(run.strayFiles() == [])
        #expect(try String(contentsOfFile: log, encoding: .utf8).contains("exited with status 0"))
    }
}
