import KmodguardCore

/// One `.ko` a build produced, checked to be for the kernel it was built for.
struct BuiltModule: Equatable, Sendable {
    /// Module file name without `.ko` (`BUILT_MODULE_NAME`), e.g. `dm-writeboost`.
    let name: String
    /// Where it lies in the scratch build tree.
    let path: String
    /// `modinfo -F vermagic`, e.g. `6.1.0-55-cloud-amd64 SMP preempt mod_unload modversions`.
    let vermagic: String
}

/// A successful build: what `ModuleInstaller` installs or `kmodguard build --out` copies.
/// The modules stay in `buildDirectory` until the next build of the same source and kernel.
struct BuildOutput: Sendable {
    let sourceName: String
    let sourceVersion: String
    let kernel: KernelRelease
    let modules: [BuiltModule]
    /// DKMS's `$dkms_tree/$PACKAGE_NAME/$PACKAGE_VERSION/build`.
    let buildDirectory: String
    let log: String
    /// Wall time of the whole build (copy, patches, make, checks).
    let seconds: Double
}
