import Foundation
@testable import KmodguardBuilder
import KmodguardCore
import KmodguardTestSupport
import Testing

/// Real third-party sources, unchanged: Debian's dm-writeboost-dkms and acpi-call-dkms and the
/// out-of-tree virtio_blk (the e2e test bed's storage driver), from scripts/driver-sources,
/// built for the newer fixture kernel, installed, and accepted by the real guard.
@Suite(.serialized, .enabled(if: (BuilderInputs.fixtureAvailable && BuilderInputs.driverSourcesAvailable) || BuilderInputs.required,
                             "needs KMODGUARD_DRIVER_SOURCES (scripts/driver-sources) and KMODGUARD_FIXTURE_ROOT"))
struct BuilderDriverSourcesTests {
    func requireInputs() throws {
        try BuilderInputs.requireFixture()
        guard BuilderInputs.driverSourcesAvailable else {
            throw BuilderTestError("KMODGUARD_DRIVER_SOURCES does not name a driver-sources directory with sources.txt (run scripts/driver-sources)")
        }
    }

    @Test func debianDkmsPackagesAndOutOfTreeVirtioBlkBuildAndPassTheGuard() throws {
        try requireInputs()
        let root = try BuilderScratchRoot(kernels: [BuilderInputs.kernels.new])
        defer { root.remove() }
        let kernel = try root.release(root.new)
        var builder = DriverBuilder(root: root.systemRoot)
        builder.timeoutSeconds = 900
        var guarded: [String] = []
        for (name, modules) in [("dm-writeboost", ["dm-writeboost"]), ("virtio_blk", ["virtio_blk"]), ("acpi-call", ["acpi_call"])] {
            let source = try DriverSource.locate(try BuilderInputs.driverSource(name))
            let output = try builder.build(source, for: kernel)
            #expect(output.modules.map(\.name) == modules, "\(name)")
            for module in output.modules { #expect(module.vermagic.hasPrefix(root.new + " SMP"), "\(module)") }
            let installed = try ModuleInstaller.install(output, kernel: kernel, root: root.systemRoot)
            #expect(installed == modules.map { root.installDirectory(root.new) + "/" + $0 + ".ko" })
            guarded += modules
        }
        // The out-of-tree virtio_blk shadows the in-tree one: depmod resolves the name to ours.
        let dep = try String(contentsOfFile: root.path + "/lib/modules/" + root.new + "/modules.dep", encoding: .utf8)
        #expect(dep.contains("updates/kmodguard/virtio_blk.ko:"))
        #expect(!dep.contains("kernel/drivers/block/virtio_blk.ko:"))
        let result = try root.runGuard(kernel: root.new, modules: guarded)
        #expect(result.status == 0, "\(result.stderr)")
        for module in guarded {
            #expect(result.stderr.contains("module \(module): resolves and matches \(root.new)"), "\(result.stderr)")
        }
    }
}
