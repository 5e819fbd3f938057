import KmodguardCompletion
import KmodguardCore

/// What `kmodguard publish` was asked to do.
struct PublishRequest {
    /// The driver source tree (dkms.conf or Kbuild).
    var source: String
    /// The secret key from `kmodguard keygen`.
    var keyFile: String
    /// The database directory, created or updated.
    var output: String
    /// Prefix for the URLs written into the index; nil writes URLs relative to index.json.
    var baseURL: String?
    /// Overrides for what the source's dkms.conf (or directory name) says.
    var name: String?
    var version: String?
    var modules: [String] = []
    /// Supported kernels; empty keeps what an earlier publication said (or means any kernel).
    var kernels: [DriverKernelRange] = []
    /// Kernels to build prebuilt modules for with the driver builder (headers must be installed).
    var buildFor: [KernelRelease] = []
    /// Modules already built elsewhere, per kernel release.
    var prebuiltModules: [(kernel: KernelRelease, path: String)] = []
    /// Refuse a prebuilt module whose vermagic names another kernel (tests turn it off to make bad databases).
    var checkVermagic = true

    init(source: String, keyFile: String, output: String) {
        self.source = source
        self.keyFile = keyFile
        self.output = output
    }
}
