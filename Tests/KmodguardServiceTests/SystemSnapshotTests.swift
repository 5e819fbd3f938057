import Foundation
@testable import KmodguardService
import KmodguardCore
import Testing

/// What the snapshot concludes from file times in a scratch root.
@Suite struct SystemSnapshotTests {
    let kernel = KernelRelease("6.1.0-56-cloud-amd64")!

    func scratch() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kmodguard-snapshot-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path + "/boot", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: path + "/lib/modules/6.1.0-56-cloud-amd64/updates/kmodguard",
                                                withIntermediateDirectories: true)
        return path
    }

    func write(_ path: String, at seconds: TimeInterval) throws {
        _ = FileManager.default.createFile(atPath: path, contents: Data("x".utf8))
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: seconds)], ofItemAtPath: path)
    }

    @Test func initramfsOlderThanTheInstalledDriverIsStale() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let module = root + "/lib/modules/6.1.0-56-cloud-amd64/updates/kmodguard/virtio_blk.ko"
        let image = root + "/boot/initrd.img-6.1.0-56-cloud-amd64"
        // No driver installed by kmodguard: nothing to say about the image.
        #expect(!SystemSnapshot.initramfsPredatesDriver(root: SystemRoot(root), kernel: kernel))
        try write(module, at: 2_000_000_000)
        // A driver but no image at all.
        #expect(SystemSnapshot.initramfsPredatesDriver(root: SystemRoot(root), kernel: kernel))
        try write(image, at: 1_999_999_000)
        #expect(SystemSnapshot.initramfsPredatesDriver(root: SystemRoot(root), kernel: kernel))
        try write(image, at: 2_000_000_100)
        #expect(!SystemSnapshot.initramfsPredatesDriver(root: SystemRoot(root), kernel: kernel))
    }

    @Test func fedoraImageNameCountsToo() throws {
        let root = try scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try write(root + "/lib/modules/6.1.0-56-cloud-amd64/updates/kmodguard/hptnvme.ko", at: 2_000_000_000)
        try write(root + "/boot/initramfs-6.1.0-56-cloud-amd64.img", at: 2_000_000_500)
        #expect(!SystemSnapshot.initramfsPredatesDriver(root: SystemRoot(root), kernel: kernel))
    }
}
