package import KmodguardCompletion
package import KmodguardCore

/// What `kmodguard publish` was asked to do.
package struct PublishRequest {
    /// The driver source tree (dkms.conf or Kbuild).
    package var source: String
    /// The secret key from `kmodguard keygen`.
    package var keyFile: String
    /// The database directory, created or updated.
    package var output: String
    /// Prefix for the URLs written into the index; nil writes URLs relative to index.json.
    package var baseURL: String?
    /// Overrides for what the source's dkms.conf (or directory name) says.
    package var name: String?
    package var version: String?
    package var modules: [String] = []
    /// Supported kernels; empty keeps what an earlier publication said (or means any kernel).
    package var kernels: [DriverKernelRange] = []
    /// Kernels to build prebuilt modules for with the driver builder (headers must be installed).
    package var buildFor: [KernelRelease] = []
    /// Modules already built elsewhere, per kernel release.
    package var prebuiltModules: [(kernel: KernelRelease, path: String)] = []
    /// Refuse a prebuilt module whose vermagic names another kernel (tests turn it off to make bad databases).
    package var checkVermagic = true

    package init(source: String, keyFile: String, output: String) {
        self.source = source
        self.keyFile = keyFile
        self.output = output
    }
}
