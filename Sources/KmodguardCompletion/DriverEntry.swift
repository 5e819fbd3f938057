public import KmodguardCore

/// One version of one driver in the index: the modules it provides, the kernels it supports,
/// its source tarball and the modules prebuilt for exact kernel releases.
public struct DriverEntry: Codable, Equatable, Sendable {
    /// `PACKAGE_NAME` of its dkms.conf.
    public var name: String
    /// `PACKAGE_VERSION`.
    public var version: String
    /// Module names (without `.ko`) the driver builds.
    public var modules: [String]
    /// Supported kernels; empty means every kernel (the source's `BUILD_EXCLUSIVE_*` still applies).
    public var kernels: [DriverKernelRange]
    /// The source tree as a `.tar.gz` holding one directory with the dkms.conf or Kbuild Makefile.
    public var source: DriverArtifact
    /// Kernel release → module name → `.ko` built for exactly that kernel.
    public var prebuilt: [String: [String: DriverArtifact]]

    public init(name: String, version: String, modules: [String], kernels: [DriverKernelRange] = [],
                source: DriverArtifact, prebuilt: [String: [String: DriverArtifact]] = [:]) {
        self.name = name
        self.version = version
        self.modules = modules
        self.kernels = kernels
        self.source = source
        self.prebuilt = prebuilt
    }

    enum CodingKeys: String, CodingKey { case name, version, modules, kernels, source, prebuilt }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        version = try container.decode(String.self, forKey: .version)
        modules = try container.decode([String].self, forKey: .modules)
        kernels = try container.decodeIfPresent([DriverKernelRange].self, forKey: .kernels) ?? []
        source = try container.decode(DriverArtifact.self, forKey: .source)
        prebuilt = try container.decodeIfPresent([String: [String: DriverArtifact]].self, forKey: .prebuilt) ?? [:]
    }

    /// `name-version`, as DKMS and `complete`'s retry fingerprint spell it.
    public var identity: String { name + "-" + version }

    public func supports(_ kernel: KernelRelease) -> Bool {
        kernels.isEmpty || kernels.contains { $0.contains(kernel) }
    }

    /// Whether it provides every module in `wanted` (compared as libkmod does, `-` = `_`).
    public func provides(_ wanted: [String]) -> Bool {
        let own = Set(modules.map(DriverName.moduleKey))
        return wanted.allSatisfy { own.contains(DriverName.moduleKey($0)) }
    }
}
