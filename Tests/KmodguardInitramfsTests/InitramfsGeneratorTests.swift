import Foundation
import KmodguardCore
import Testing
@testable import KmodguardInitramfs

/// Which generator a root uses, and where its images are.
@Suite struct InitramfsGeneratorTests {
    /// A root holding fake generator programs.
    func root(_ programs: [String], debian: Bool = true) throws -> InitramfsScratchRoot {
        let scratch = try InitramfsScratchRoot(oldImage: false, stale: false)
        for program in programs { try scratch.write("#!/bin/sh\n", to: program, executable: true) }
        if debian { try scratch.write("12.8\n", to: "/etc/debian_version") }
        return scratch
    }

    @Test func detectsInitramfsTools() throws {
        let scratch = try root(["/usr/sbin/mkinitramfs", "/usr/sbin/update-initramfs", "/usr/bin/lsinitramfs"])
        defer { scratch.remove() }
        let generator = try InitramfsGenerator.detect(root: scratch.root, environment: [:])
        #expect(generator.kind == .initramfsTools)
        // A root that is not the host runs its own generator, chrooted.
        #expect(generator.builder == InitramfsTool("/usr/sbin/mkinitramfs", chroot: scratch.path))
        #expect(generator.lister.path.hasSuffix("/lsinitramfs"))
    }

    @Test func detectsDracut() throws {
        let scratch = try root(["/usr/bin/dracut", "/usr/bin/lsinitrd"], debian: false)
        defer { scratch.remove() }
        let generator = try InitramfsGenerator.detect(root: scratch.root, environment: [:])
        #expect(generator.kind == .dracut)
        #expect(generator.builder == InitramfsTool("/usr/bin/dracut", chroot: scratch.path))
        // Fedora's name for a first image.
        let initramfs = Initramfs(root: scratch.root, generator: generator, runner: InitramfsFakeRunner())
        #expect(initramfs.imagePath(for: scratch.kernel) == scratch.boot + "/initramfs-" + InitramfsScratchRoot.kernelName + ".img")
    }

    @Test func bothInstalledMeansInitramfsToolsOnDebianAndDracutElsewhere() throws {
        let programs = ["/usr/sbin/mkinitramfs", "/usr/bin/lsinitramfs", "/usr/bin/dracut", "/usr/bin/lsinitrd"]
        let debian = try root(programs)
        defer { debian.remove() }
        #expect(try InitramfsGenerator.detect(root: debian.root, environment: [:]).kind == .initramfsTools)
        let fedora = try root(programs, debian: false)
        defer { fedora.remove() }
        #expect(try InitramfsGenerator.detect(root: fedora.root, environment: [:]).kind == .dracut)
    }

    @Test func theParameterBeatsTheEnvironmentWhichBeatsDetection() throws {
        let scratch = try root(["/usr/sbin/mkinitramfs", "/usr/bin/lsinitramfs", "/usr/bin/dracut", "/usr/bin/lsinitrd"])
        defer { scratch.remove() }
        let environment = [InitramfsGenerator.kindVariable: "dracut"]
        #expect(try InitramfsGenerator.detect(root: scratch.root, environment: environment).kind == .dracut)
        #expect(try InitramfsGenerator.detect(root: scratch.root, override: .initramfsTools, environment: environment).kind == .initramfsTools)
    }

    @Test func aDracutWrapperRunsOnTheHostWithItsOwnLsinitrd() throws {
        let scratch = try root([])
        defer { scratch.remove() }
        try scratch.write("#!/bin/sh\n", to: "/opt/dracut/bin/dracut", executable: true)
        try scratch.write("#!/bin/sh\n", to: "/opt/dracut/bin/lsinitrd", executable: true)
        let environment = [InitramfsGenerator.dracutVariable: scratch.path + "/opt/dracut/bin/dracut"]
        let generator = try InitramfsGenerator.detect(root: scratch.root, environment: environment)
        #expect(generator == InitramfsGenerator(kind: .dracut, builder: InitramfsTool(scratch.path + "/opt/dracut/bin/dracut"),
                                                lister: InitramfsTool(scratch.path + "/opt/dracut/bin/lsinitrd")))
        // Debian's dracut names images like initramfs-tools.
        let initramfs = Initramfs(root: scratch.root, generator: generator, runner: InitramfsFakeRunner())
        #expect(initramfs.imagePath(for: scratch.kernel) == scratch.image)
    }

    @Test func failuresSayWhatToInstallOrSet() throws {
        let empty = try root([])
        defer { empty.remove() }
        let none = try expectFailure { try InitramfsGenerator.detect(root: empty.root, environment: [:]) }
        #expect(none.description == "no initramfs generator in " + empty.path
            + "/: neither mkinitramfs nor dracut is installed; install initramfs-tools (Debian) or dracut")
        let asked = try expectFailure { try InitramfsGenerator.detect(root: empty.root, override: .dracut, environment: [:]) }
        #expect(asked.description == "dracut was asked for but " + empty.path
            + "/ has no dracut; install the dracut package or unset KMODGUARD_INITRAMFS_GENERATOR")
        let unknown = try expectFailure { try InitramfsGenerator.detect(root: empty.root, environment: [InitramfsGenerator.kindVariable: "mkinitcpio"]) }
        #expect(unknown.description == "KMODGUARD_INITRAMFS_GENERATOR=mkinitcpio names no initramfs generator: use dracut or initramfs-tools (or unset it to detect)")
        let wrapper = try expectFailure { try InitramfsGenerator.detect(root: empty.root, environment: [InitramfsGenerator.dracutVariable: "/nonexistent/dracut"]) }
        #expect(wrapper.description == "cannot find /nonexistent/dracut in /: install dracut (set by KMODGUARD_DRACUT)")
    }

    @Test func anExistingImageNameWins() throws {
        let scratch = try root(["/usr/sbin/mkinitramfs", "/usr/bin/lsinitramfs"])
        defer { scratch.remove() }
        let initramfs = try Initramfs.detect(root: scratch.root, runner: InitramfsFakeRunner(), environment: [:])
        #expect(initramfs.imagePath(for: scratch.kernel) == scratch.image)
        let fedora = scratch.boot + "/initramfs-" + InitramfsScratchRoot.kernelName + ".img"
        try scratch.write("x", to: "/boot/initramfs-" + InitramfsScratchRoot.kernelName + ".img")
        #expect(initramfs.imagePath(for: scratch.kernel) == fedora)
        try scratch.write("x", to: "/boot/initrd.img-" + InitramfsScratchRoot.kernelName)
        #expect(initramfs.imagePath(for: scratch.kernel) == scratch.image)
    }

    @Test func toolsTranslatePathsIntoTheirChroot() {
        let tool = InitramfsTool("/usr/sbin/mkinitramfs", chroot: "/srv/root")
        #expect(tool.visiblePath("/srv/root/boot/x") == "/boot/x")
        #expect(tool.visiblePath("/srv/rootfs/boot/x") == nil)
        #expect(tool.command(["-o", "/boot/x"]).description == "/usr/sbin/chroot /srv/root /usr/sbin/mkinitramfs -o /boot/x")
        #expect(InitramfsTool("/usr/bin/lsinitrd").visiblePath("/tmp/x") == "/tmp/x")
    }
}
