package import KmodguardCore

/// One `.ko` a build produced, checked to be for the kernel it was built for.
package struct BuiltModule: Equatable, Sendable {
    /// Module file name without `.ko` (`BUILT_MODULE_NAME`), e.g. `dm-writeboost`.
    package let name: String
    /// Where it lies in the scratch build tree.
    package let path: String
    /// `modinfo -F vermagic`, e.g. `6.1.0-55-cloud-amd64 SMP preempt mod_unload modversions`.
    package let vermagic: String

    package init(name: String, path: String, vermagic: String) {
        self.name = name
        self.path = path
        self.vermagic = vermagic
    }
}

/// A successful build: what `ModuleInstaller` installs or `kmodguard build --out` copies.
/// The modules stay in `buildDirectory` until the next build of the same source and kernel.
package struct BuildOutput: Sendable {
    package let sourceName: String
    package let sourceVersion: String
    package let kernel: KernelRelease
    package let modules: [BuiltModule]
    /// DKMS's `$dkms_tree/$PACKAGE_NAME/$PACKAGE_VERSION/build`.
    package let buildDirectory: String
    package let log: String
    /// Wall time of the whole build (copy, patches, make, checks).
    package let seconds: Double

    package init(sourceName: String, sourceVersion: String, kernel: KernelRelease, modules: [BuiltModule],
                 buildDirectory: String, log: String, seconds: Double) {
        self.sourceName = sourceName
        self.sourceVersion = sourceVersion
        self.kernel = kernel
        self.modules = modules
        self.buildDirectory = buildDirectory
        self.log = log
        self.seconds = seconds
    }
}
