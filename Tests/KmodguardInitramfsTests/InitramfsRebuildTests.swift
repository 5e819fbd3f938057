import Foundation
import KmodguardCore
import Testing
@testable import KmodguardInitramfs

/// `Initramfs.rebuild` through a fake generator: the old image stays until the new one is
/// verified, and no failure leaves it changed or a temporary file behind.
@Suite struct InitramfsRebuildTests {
    @Test func replacesTheImageOnlyAfterVerification() throws {
        let scratch = try InitramfsScratchRoot()
        defer { scratch.remove() }
        let runner = InitramfsFakeRunner()
        runner.listing = InitramfsScratchRoot.goodListing
        var staleAtBuild: [Bool] = []
        var imageAtList: [UInt8]?
        var temporaryAtList: [UInt8]?
        runner.beforeBuild = { _ in staleAtBuild = scratch.staleFiles.map { FileManager.default.fileExists(atPath: $0) } }
        runner.beforeList = { command in
            imageAtList = scratch.bytes(scratch.image)
            temporaryAtList = scratch.bytes(command.arguments.last ?? "")
        }

        let result = try scratch.initramfs(runner).rebuild(kernel: scratch.kernel, requiredModules: ["kmodguard-fixture"])

        // Stale temporaries went first, then build, then list; the rename came last.
        #expect(staleAtBuild == [false, false])
        let programs = runner.commands.map(\.executable)
        #expect(programs == ["/fake/mkinitramfs", "/fake/lsinitramfs"])
        let temporary = scratch.image + ".kmodguard-new"
        #expect(runner.commands[0].arguments == ["-o", temporary, InitramfsScratchRoot.kernelName])
        #expect(runner.commands[0].timeoutSeconds != nil)
        #expect(runner.commands[1].arguments == [temporary])
        #expect(imageAtList == InitramfsScratchRoot.oldImage)
        #expect(temporaryAtList == runner.image)
        // Now the new image is in place, with the old one's permissions, and nothing else is left.
        #expect(scratch.bytes(scratch.image) == runner.image)
        let mode = try FileManager.default.attributesOfItem(atPath: scratch.image)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(scratch.strayFiles() == [])

        #expect(result.image == scratch.image)
        #expect(result.size == runner.image.count)
        #expect(result.generator == .initramfsTools)
        #expect(result.modules == ["kmodguard-fixture": "usr/lib/modules/\(InitramfsScratchRoot.kernelName)/updates/kmodguard/kmodguard_fixture.ko"])
        #expect(result.replacedExisting)
        #expect(result.generatorSeconds == 1.5)
        #expect(result.warnings.isEmpty)
        #expect(result.log == scratch.path + "/var/lib/kmodguard/logs/initramfs-\(InitramfsScratchRoot.kernelName).log")
        let log = try String(contentsOfFile: result.log, encoding: .utf8)
        #expect(log.contains("final line of the generator"))
        #expect(log.contains("kmodguard: mkinitramfs exited with status 0 after 1.5 s"))
        #expect(log.contains("kmodguard: installed " + scratch.image))
    }

    @Test func aMissingModuleKeepsTheOldImage() throws {
        let scratch = try InitramfsScratchRoot()
        defer { scratch.remove() }
        let runner = InitramfsFakeRunner()
        runner.listing = InitramfsScratchRoot.goodListing.replacingOccurrences(of: "kmodguard_fixture.ko", with: "other.ko")

        let failure = try expectFailure { try scratch.initramfs(runner).rebuild(kernel: scratch.kernel, requiredModules: ["kmodguard_fixture"]) }

        guard case .modulesMissing(_, let image, let existed, let check, _, let hook, let installed, _, let log) = failure else {
            Issue.record("unexpected \(failure)")
            return
        }
        #expect(image == scratch.image && existed)
        #expect(check.missing == ["kmodguard_fixture"])
        #expect(hook == scratch.path + "/usr/share/initramfs-tools/hooks/kmodguard")
        #expect(!installed)
        #expect(scratch.bytes(scratch.image) == InitramfsScratchRoot.oldImage)
        #expect(scratch.strayFiles() == [])
        let text = failure.description
        #expect(text.contains("lacks kmodguard_fixture"))
        #expect(text.contains("kept the old image " + scratch.image + " unchanged"))
        #expect(text.contains(hook + " is not installed (initramfs-tools never copies modules from updates/ by itself)"))
        #expect(try String(contentsOfFile: log, encoding: .utf8).contains("lacks kmodguard_fixture"))
    }

    @Test func anInstalledHookThatAddedNothingIsNamed() throws {
        let scratch = try InitramfsScratchRoot()
        defer { scratch.remove() }
        try scratch.write("#!/bin/sh\n", to: "/usr/lib/dracut/modules.d/90kmodguard/module-setup.sh", executable: true)
        let runner = InitramfsFakeRunner()
        runner.listing = "Image: x\n========\n-rw-r--r--   1 root root 5 Nov 16 10:17 usr/lib/modules/6.1.0-56-cloud-amd64/modules.dep\n"

        let failure = try expectFailure { try scratch.initramfs(runner, kind: .dracut).rebuild(kernel: scratch.kernel, requiredModules: ["kmodguard_fixture"]) }

        #expect(runner.commands.first?.arguments.first == "--force")
        #expect(failure.description.contains("90kmodguard/module-setup.sh is installed but did not add it"))
        #expect(failure.description.contains("check MODULES in " + scratch.path + "/etc/kmodguard/kmodguard.conf"))
        #expect(scratch.bytes(scratch.image) == InitramfsScratchRoot.oldImage)
        #expect(scratch.strayFiles() == [])
    }

    @Test func anInTreeModuleDoesNotPassForTheRebuiltDriver() throws {
        let scratch = try InitramfsScratchRoot()
        defer { scratch.remove() }
        let runner = InitramfsFakeRunner()
        runner.listing = InitramfsScratchRoot.goodListing.replacingOccurrences(of: "updates/kmodguard/kmodguard_fixture.ko", with: "kernel/drivers/misc/kmodguard_fixture.ko")

        let failure = try expectFailure { try scratch.initramfs(runner).rebuild(kernel: scratch.kernel, requiredModules: ["kmodguard_fixture"]) }

        guard case .modulesMissing(_, _, _, let check, _, _, _, _, _) = failure else {
            Issue.record("unexpected \(failure)")
            return
        }
        #expect(check.missing.isEmpty)
        #expect(check.outdated == [InitramfsModuleCheck.Outdated(
            module: "kmodguard_fixture", imagePath: "usr/lib/modules/6.1.0-56-cloud-amd64/kernel/drivers/misc/kmodguard_fixture.ko",
            treePath: scratch.moduleTree + "/updates/kmodguard/kmodguard_fixture.ko")])
        #expect(failure.description.hasPrefix("the rebuilt initramfs for 6.1.0-56-cloud-amd64 has kmodguard_fixture as usr/lib/modules/"
            + "6.1.0-56-cloud-amd64/kernel/drivers/misc/kmodguard_fixture.ko, not " + scratch.moduleTree
            + "/updates/kmodguard/kmodguard_fixture.ko (the file modules.dep names); kept the old image "))
        #expect(scratch.bytes(scratch.image) == InitramfsScratchRoot.oldImage)
    }

    @Test func aFailingGeneratorKeepsTheOldImage() throws {
        let scratch = try InitramfsScratchRoot()
        defer { scratch.remove() }
        let runner = InitramfsFakeRunner()
        runner.builderStatus = 1
        runner.output = "E: /usr/share/initramfs-tools/hooks/zz-broken failed with return 1.\n"

        let failure = try expectFailure { try scratch.initramfs(runner).rebuild(kernel: scratch.kernel, requiredModules: ["kmodguard_fixture"]) }

        guard case .generatorFailed(let command, let status, let timedOut, let log, let lastLines) = failure else {
            Issue.record("unexpected \(failure)")
            return
        }
        #expect(command.hasPrefix("/fake/mkinitramfs -o "))
        #expect(status == 1 && !timedOut)
        #expect(failure.log == log)
        #expect(lastLines == ["E: /usr/share/initramfs-tools/hooks/zz-broken failed with return 1."])
        #expect(failure.description.contains("failed with exit status 1; the old initramfs is unchanged. Full output: " + log))
        // Never listed, never renamed; the half-written file is gone.
        #expect(runner.commands.count == 1)
        #expect(scratch.bytes(scratch.image) == InitramfsScratchRoot.oldImage)
        #expect(scratch.strayFiles() == [])
    }

    /// Issue 13, boot-full: a /boot without room for the new image next to the old one is
    /// refused before the generator runs, naming the bytes needed and free.
    @Test func aFullBootIsRefusedBeforeTheGeneratorRuns() throws {
        let scratch = try InitramfsScratchRoot()
        defer { scratch.remove() }
        let runner = InitramfsFakeRunner()
        var initramfs = scratch.initramfs(runner)
        let oldSize = UInt64(InitramfsScratchRoot.oldImage.count)
        let needed = oldSize + oldSize / 20
        initramfs.freeBytes = { _ in .success(needed - 1) }

        let failure = try expectFailure { try initramfs.rebuild(kernel: scratch.kernel, requiredModules: ["kmodguard_fixture"]) }

        guard case .noSpace(let kernel, let shortage, nil, []) = failure else {
            Issue.record("unexpected \(failure)")
            return
        }
        #expect(kernel == InitramfsScratchRoot.kernelName)
        #expect(shortage == InitramfsSpace.Shortage(directory: scratch.boot, neededBytes: needed, freeBytes: needed - 1,
                                                   basis: scratch.image, basisBytes: oldSize))
        #expect(failure.description.hasPrefix("no room for \(InitramfsScratchRoot.kernelName)'s new initramfs: \(scratch.boot) has \(needed - 1) bytes free"))
        #expect(failure.description.contains("about \(needed) bytes"))
        #expect(failure.description.contains("the old image is unchanged"))
        #expect(runner.commands.isEmpty)
        #expect(scratch.bytes(scratch.image) == InitramfsScratchRoot.oldImage)
        #expect(scratch.strayFiles() == [])
    }

    /// The generator ran out of space itself (the estimate was short, or something else filled
    /// /boot meanwhile): still reported as no room, with the generator's output.
    @Test func aGeneratorFailingOnAFullBootIsReportedAsNoRoom() throws {
        let scratch = try InitramfsScratchRoot()
        defer { scratch.remove() }
        let runner = InitramfsFakeRunner()
        runner.builderStatus = 1
        runner.output = "cpio: write error: No space left on device\n"
        var initramfs = scratch.initramfs(runner)
        let free = LockedFreeBytes(values: [1 << 30, 3])
        initramfs.freeBytes = { _ in .success(free.next()) }

        let failure = try expectFailure { try initramfs.rebuild(kernel: scratch.kernel, requiredModules: ["kmodguard_fixture"]) }

        guard case .noSpace(_, let shortage, let log?, let lastLines) = failure else {
            Issue.record("unexpected \(failure)")
            return
        }
        #expect(shortage.freeBytes == 3)
        #expect(lastLines == ["cpio: write error: No space left on device"])
        #expect(failure.description.contains("Generator output: " + log))
        #expect(scratch.bytes(scratch.image) == InitramfsScratchRoot.oldImage)
        #expect(scratch.strayFiles() == [])
    }

    @Test(arguments: [
        ("initrd.img-6.1.0-56-cloud-amd64", true), ("initramfs-6.1.0-56-cloud-amd64.img", true),
        ("initrd.img-6.1.0-56-cloud-amd64.kmodguard-new", false), ("vmlinuz-6.1.0-56-cloud-amd64", false),
        ("initramfs-6.1.0-56-cloud-amd64.img.kmodguard-new.42", false),
    ])
    func imageNames(name: String, isImage: Bool) {
        #expect(InitramfsSpace.isImageName(name) == isImage)
    }

    /// A first image is estimated from the largest image already there.
    @Test func aFirstImageIsEstimatedFromTheLargestOtherImage() throws {
        let scratch = try InitramfsScratchRoot(oldImage: false, stale: true)
        defer { scratch.remove() }
        try scratch.write(String(repeating: "x", count: 100), to: "/boot/initrd.img-6.1.0-40-cloud-amd64")
        try scratch.write(String(repeating: "x", count: 300), to: "/boot/initrd.img-6.1.0-41-cloud-amd64")
        let space = InitramfsSpace(image: scratch.image, directory: scratch.boot, freeBytes: { _ in .success(314) })
        #expect(space.sizeBasis()! == (scratch.boot + "/initrd.img-6.1.0-41-cloud-amd64", 300))
        #expect(space.shortage()?.neededBytes == 315)
        #expect(InitramfsSpace(image: scratch.image, directory: scratch.boot, freeBytes: { _ in .success(315) }).shortage() == nil)
    }

    @Test func aTimeoutKeepsTheOldImage() throws {
        let scratch = try InitramfsScratchRoot()
        defer { scratch.remove() }
        let runner = InitramfsFakeRunner()
        runner.builderTimesOut = true

        let failure = try expectFailure { try scratch.initramfs(runner).rebuild(kernel: scratch.kernel, requiredModules: ["kmodguard_fixture"]) }

        #expect(failure.description.contains("timed out; the old initramfs is unchanged"))
        #expect(scratch.bytes(scratch.image) == InitramfsScratchRoot.oldImage)
        #expect(scratch.strayFiles() == [])
    }

    @Test func aGeneratorThatWritesNothingFails() throws {
        let scratch = try InitramfsScratchRoot(stale: false)
        defer { scratch.remove() }
        let runner = InitramfsFakeRunner()
        runner.writesImage = false

        let failure = try expectFailure { try scratch.initramfs(runner).rebuild(kernel: scratch.kernel, requiredModules: ["kmodguard_fixture"]) }

        #expect(failure.description.contains("(it wrote no image to " + scratch.image + ".kmodguard-new)"))
        #expect(scratch.bytes(scratch.image) == InitramfsScratchRoot.oldImage)
    }

    @Test func staleTemporaryFilesAreRemovedEvenWhenTheRebuildFails() throws {
        let scratch = try InitramfsScratchRoot()
        defer { scratch.remove() }
        let runner = InitramfsFakeRunner()
        runner.builderStatus = 2
        runner.writePartialImageOnFailure = false
        _ = try expectFailure { try scratch.initramfs(runner).rebuild(kernel: scratch.kernel, requiredModules: []) }
        #expect(scratch.strayFiles() == [])
        // Someone else's file that merely starts like the image is left alone.
        try scratch.write("keep", to: "/boot/initrd.img-" + InitramfsScratchRoot.kernelName + ".dpkg-bak")
        runner.builderStatus = 0
        runner.listing = InitramfsScratchRoot.goodListing
        _ = try scratch.initramfs(runner).rebuild(kernel: scratch.kernel, requiredModules: [])
        #expect(scratch.strayFiles() == ["initrd.img-" + InitramfsScratchRoot.kernelName + ".dpkg-bak"])
    }

    @Test func aFirstImageIsCreated() throws {
        let scratch = try InitramfsScratchRoot(oldImage: false, stale: false)
        defer { scratch.remove() }
        let runner = InitramfsFakeRunner()
        runner.listing = InitramfsScratchRoot.goodListing
        let result = try scratch.initramfs(runner).rebuild(kernel: scratch.kernel, requiredModules: ["kmodguard_fixture"])
        #expect(!result.replacedExisting)
        #expect(scratch.bytes(scratch.image) == runner.image)
    }

    @Test func aKernelWithoutModuleTreeIsRefused() throws {
        let scratch = try InitramfsScratchRoot()
        defer { scratch.remove() }
        let runner = InitramfsFakeRunner()
        let failure = try expectFailure { try scratch.initramfs(runner).rebuild(kernel: KernelRelease("6.1.0-99-cloud-amd64")!, requiredModules: []) }
        #expect(failure.description == "kernel 6.1.0-99-cloud-amd64 has no module tree " + scratch.path
            + "/lib/modules/6.1.0-99-cloud-amd64/modules.dep: install its linux-image package, or run depmod 6.1.0-99-cloud-amd64")
        #expect(runner.commands.isEmpty)
    }

    @Test func postUpdateHooksRunForTheRootsBootDirectory() throws {
        let scratch = try InitramfsScratchRoot()
        defer { scratch.remove() }
        try scratch.write("#!/bin/sh\n", to: "/etc/initramfs/post-update.d/flash-kernel", executable: true)
        let runner = InitramfsFakeRunner()
        runner.listing = InitramfsScratchRoot.goodListing
        runner.otherStatus = 3
        let result = try scratch.initramfs(runner).rebuild(kernel: scratch.kernel, requiredModules: ["kmodguard_fixture"])
        let hooks = try #require(runner.commands.last)
        // Chrooted: the scratch root is not the host.
        #expect(hooks.executable == "/usr/sbin/chroot")
        #expect(hooks.arguments == [scratch.path, "/bin/run-parts", "--arg=" + InitramfsScratchRoot.kernelName,
                                    "--arg=/boot/initrd.img-" + InitramfsScratchRoot.kernelName, "/etc/initramfs/post-update.d/"])
        #expect(result.warnings.count == 1)
        #expect(result.warnings.first?.contains("post-update hooks in " + scratch.path + "/etc/initramfs/post-update.d failed (exited with status 3)") == true)
        #expect(scratch.bytes(scratch.image) == runner.image)
    }

    @Test func aChrootedGeneratorGetsPathsInsideTheRoot() throws {
        let scratch = try InitramfsScratchRoot()
        defer { scratch.remove() }
        let runner = InitramfsFakeRunner()
        runner.listing = InitramfsScratchRoot.goodListing
        let generator = InitramfsGenerator(kind: .initramfsTools, builder: InitramfsTool("/usr/sbin/mkinitramfs", chroot: scratch.path),
                                           lister: InitramfsTool("/usr/bin/lsinitramfs", chroot: scratch.path))
        _ = try Initramfs(root: scratch.root, generator: generator, runner: runner).rebuild(kernel: scratch.kernel, requiredModules: ["kmodguard_fixture"])
        let image = "/boot/initrd.img-" + InitramfsScratchRoot.kernelName
        #expect(runner.commands.map(\.executable) == ["/usr/sbin/chroot", "/usr/sbin/chroot"])
        #expect(runner.commands[0].arguments == [scratch.path, "/usr/sbin/mkinitramfs", "-o", image + ".kmodguard-new", InitramfsScratchRoot.kernelName])
        #expect(runner.commands[1].arguments == [scratch.path, "/usr/bin/lsinitramfs", image + ".kmodguard-new"])
        #expect(scratch.bytes(scratch.image) == runner.image)

        // An image directory outside the root is out of a chrooted generator's reach.
        let outside = FileManager.default.temporaryDirectory.appendingPathComponent("kmodguard-outside-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: outside) }
        let failure = try expectFailure {
            try Initramfs(root: scratch.root, generator: generator, runner: runner, imageDirectory: outside)
                .rebuild(kernel: scratch.kernel, requiredModules: [])
        }
        guard case .imageOutsideRoot = failure else {
            Issue.record("unexpected \(failure)")
            return
        }
    }

    @Test func containsListsAnExistingImage() throws {
        let scratch = try InitramfsScratchRoot(stale: false)
        defer { scratch.remove() }
        let runner = InitramfsFakeRunner()
        runner.listing = InitramfsScratchRoot.goodListing
        let initramfs = scratch.initramfs(runner)
        let check = try initramfs.contains(image: scratch.image, modules: ["kmodguard_fixture", "virtio-blk", "nvme"], kernel: scratch.kernel)
        #expect(check.present == ["kmodguard_fixture": "usr/lib/modules/6.1.0-56-cloud-amd64/updates/kmodguard/kmodguard_fixture.ko",
                                  "virtio-blk": "usr/lib/modules/6.1.0-56-cloud-amd64/kernel/drivers/block/virtio_blk.ko"])
        #expect(check.missing == ["nvme"])
        #expect(!check.isComplete)

        let missing = try expectFailure { try initramfs.contains(image: scratch.boot + "/nothing", modules: [], kernel: scratch.kernel) }
        #expect(missing.description.hasPrefix("no initramfs " + scratch.boot + "/nothing"))

        runner.listerStatus = 1
        runner.listing = "lsinitramfs: unknown compression\n"
        let broken = try expectFailure { try initramfs.contains(image: scratch.image, modules: [], kernel: scratch.kernel) }
        let expected = "/fake/lsinitramfs " + scratch.image + " could not list " + scratch.image
        #expect(broken.description == expected + " (exit status 1):\n  lsinitramfs: unknown compression")
    }
}

/// The typed failure `body` throws; records an issue (and throws) when it succeeds.
func expectFailure<T>(sourceLocation: SourceLocation = #_sourceLocation,
                      _ body: () throws -> T) throws -> InitramfsFailure {
    do {
        _ = try body()
    } catch let error as InitramfsFailure {
        return error
    }
    Issue.record("expected an InitramfsFailure", sourceLocation: sourceLocation)
    throw InitramfsTestError("no failure")
}

struct InitramfsTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Free-space answers in order, the last one repeated (a @Sendable closure needs a reference).
final class LockedFreeBytes: @unchecked Sendable {
    private var values: [UInt64]
    private let lock = NSLock()

    init(values: [UInt64]) { self.values = values }

    func next() -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        return values.count > 1 ? values.removeFirst() : values[0]
    }
}
