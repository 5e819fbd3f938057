import Foundation
import KmodguardCore
@testable import KmodguardInitramfs

/// A throwaway root for the initramfs unit tests: a kernel module tree with the fixture driver
/// in `updates/`, an old image, and leftovers of an interrupted earlier run.
struct InitramfsScratchRoot {
    static let kernelName = "6.1.0-56-cloud-amd64"
    static let oldImage = Array("OLD IMAGE that boots today\n".utf8)

    let path: String
    var root: SystemRoot { SystemRoot(path) }
    var kernel: KernelRelease { KernelRelease(Self.kernelName)! }
    var boot: String { path + "/boot" }
    var image: String { boot + "/initrd.img-" + Self.kernelName }
    var moduleTree: String { path + "/lib/modules/" + Self.kernelName }
    /// What an interrupted run of kmodguard (and of dracut inside it) left behind.
    var staleFiles: [String] { [image + ".kmodguard-new", image + ".kmodguard-new.4242"] }

    init(oldImage: Bool = true, stale: Bool = true, updatesModule: Bool = true) throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("kmodguard-initramfs-\(UUID().uuidString)").path
        let manager = FileManager.default
        try manager.createDirectory(atPath: moduleTree + "/updates/kmodguard", withIntermediateDirectories: true)
        try manager.createDirectory(atPath: boot, withIntermediateDirectories: true)
        // As depmod writes it: the rebuilt driver in updates/ wins over an in-tree one.
        var modulesDep = "kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko\n"
        if updatesModule {
            try Data("ko".utf8).write(to: URL(fileURLWithPath: moduleTree + "/updates/kmodguard/kmodguard_fixture.ko"))
            modulesDep += "updates/kmodguard/kmodguard_fixture.ko:\n"
        }
        try Data(modulesDep.utf8).write(to: URL(fileURLWithPath: moduleTree + "/modules.dep"))
        if oldImage {
            try Data(Self.oldImage).write(to: URL(fileURLWithPath: image))
            try manager.setAttributes([.posixPermissions: 0o600], ofItemAtPath: image)
        }
        if stale {
            for file in staleFiles { try Data("half an image".utf8).write(to: URL(fileURLWithPath: file)) }
        }
    }

    func initramfs(_ runner: InitramfsFakeRunner, kind: InitramfsGeneratorKind = .initramfsTools) -> Initramfs {
        let generator = InitramfsGenerator(kind: kind, builder: InitramfsTool("/fake/" + kind.builderName),
                                           lister: InitramfsTool("/fake/" + kind.listerName))
        return Initramfs(root: root, generator: generator, runner: runner)
    }

    func bytes(_ file: String) -> [UInt8]? {
        FileManager.default.contents(atPath: file).map { Array($0) }
    }

    /// Files in /boot other than the image itself.
    func strayFiles() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: boot)) ?? []
        return names.filter { $0 != "initrd.img-" + Self.kernelName && $0 != "initramfs-" + Self.kernelName + ".img" }.sorted()
    }

    func write(_ text: String, to relative: String, executable: Bool = false) throws {
        let file = path + relative
        try FileManager.default.createDirectory(atPath: parentDirectory(file), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: file))
        if executable { try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: file) }
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }

    /// An lsinitramfs listing of an initramfs-tools image holding the fixture from updates/.
    static let goodListing = """
        .
        bin
        conf/initramfs.conf
        usr/lib/modules/\(kernelName)/kernel/drivers/block/virtio_blk.ko
        usr/lib/modules/\(kernelName)/updates/kmodguard/kmodguard_fixture.ko
        usr/lib/modules/\(kernelName)/modules.dep
        usr/sbin/kmodguard-early
        """
}
