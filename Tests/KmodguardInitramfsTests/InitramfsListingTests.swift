import Testing
@testable import KmodguardInitramfs

/// Reading module files out of `lsinitramfs` and `lsinitrd` listings.
@Suite struct InitramfsListingTests {
    static let kernel = "6.1.0-56-cloud-amd64"

    @Test func readsLsinitramfs() {
        let listing = InitramfsListing(InitramfsScratchRoot.goodListing)
        #expect(listing.paths.count == 6)
        #expect(listing.moduleFiles("kmodguard_fixture", kernel: Self.kernel).map(\.relative) == ["updates/kmodguard/kmodguard_fixture.ko"])
    }

    @Test func readsLsinitrdWithItsHeaderAndSymlinks() {
        let output = """
            Image: /tmp/d.img: 22M
            ========================================================================
            Version: dracut-059-4

            Arguments:  --force

            dracut modules:
            kernel-modules
            kmodguard
            ========================================================================
            drwxr-xr-x  12 root     root            0 Nov 25 14:20 .
            lrwxrwxrwx   1 root     root            7 Nov 25 14:20 bin -> usr/bin
            lrwxrwxrwx   1 root     root            7 Nov 25 14:20 lib/modules/x.ko -> /elsewhere/y.ko
            -rw-r--r--   1 root     root        58209 Nov 16 10:17 usr/lib/modules/6.1.0-56-cloud-amd64/kernel/drivers/block/virtio_blk.ko.xz
            -rw-r--r--   1 root     root        58209 Nov 16 10:17 lib/modules/6.1.0-56-cloud-amd64/updates/dkms/hptnvme.ko.zst
            """
        let listing = InitramfsListing(output)
        #expect(listing.moduleFiles("virtio-blk", kernel: Self.kernel).map(\.path)
            == ["usr/lib/modules/6.1.0-56-cloud-amd64/kernel/drivers/block/virtio_blk.ko.xz"])
        #expect(listing.moduleFiles("hptnvme", kernel: Self.kernel).map(\.relative) == ["updates/dkms/hptnvme.ko.zst"])
        // Another kernel's tree does not count, and neither do names that merely contain it.
        #expect(listing.moduleFiles("virtio_blk", kernel: "6.1.0-55-cloud-amd64").isEmpty)
        #expect(listing.moduleFiles("blk", kernel: Self.kernel).isEmpty)
        #expect(listing.paths.contains("bin"))
        #expect(!listing.paths.contains("usr/bin"))
    }

    @Test func ignoresModulesOutsideTheModuleTree() {
        let listing = InitramfsListing("./var/tmp/lib/modules/6.1.0-56-cloud-amd64/x.ko\n/lib/modules/6.1.0-56-cloud-amd64/kernel/x.ko\n")
        #expect(listing.moduleFiles("x", kernel: Self.kernel).map(\.path) == ["lib/modules/6.1.0-56-cloud-amd64/kernel/x.ko"])
    }

    @Test func theImageMustHoldTheFileDepmodResolvesTo() throws {
        let scratch = try InitramfsScratchRoot(oldImage: false, stale: false)
        defer { scratch.remove() }
        try scratch.write("/lib/modules/\(Self.kernel)/updates/dkms/hptnvme.ko.xz:\n/lib/modules/\(Self.kernel)/kernel/drivers/nvme/hptnvme.ko:\n",
                          to: "/lib/modules/\(Self.kernel)/modules.dep")
        let listing = InitramfsListing("lib/modules/\(Self.kernel)/kernel/drivers/nvme/hptnvme.ko\nlib/modules/\(Self.kernel)/updates/other.ko\n")
        let stale = InitramfsModuleCheck(listing: listing, modules: ["hptnvme", "other"], kernel: Self.kernel, modulesDirectory: scratch.moduleTree)
        #expect(stale.outdated == [InitramfsModuleCheck.Outdated(module: "hptnvme", imagePath: "lib/modules/\(Self.kernel)/kernel/drivers/nvme/hptnvme.ko",
                                                                 treePath: scratch.moduleTree + "/updates/dkms/hptnvme.ko.xz")])
        // Not in modules.dep: wherever the image has it.
        #expect(stale.present == ["other": "lib/modules/\(Self.kernel)/updates/other.ko"])
        #expect(!stale.isComplete)
        let good = InitramfsModuleCheck(listing: InitramfsListing("lib/modules/\(Self.kernel)/updates/dkms/hptnvme.ko.xz\n"),
                                        modules: ["hptnvme"], kernel: Self.kernel, modulesDirectory: scratch.moduleTree)
        #expect(good.isComplete)
    }

    @Test func moduleNames() {
        #expect(InitramfsModuleName.normalized("virtio-blk") == "virtio_blk")
        #expect(InitramfsModuleName.ofFile("a/b/dm-writeboost.ko.zst") == "dm_writeboost")
        #expect(InitramfsModuleName.ofFile("a/b/x.ko.gz") == "x")
        #expect(InitramfsModuleName.ofFile("a/b/x.kox") == nil)
        #expect(InitramfsModuleName.ofFile(".ko") == nil)
        #expect(InitramfsModuleName.ofFile("modules.dep") == nil)
    }
}
