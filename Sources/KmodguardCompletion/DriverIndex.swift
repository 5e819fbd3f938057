public import KmodguardCore

/// The signed `index.json` of a driver database (format: docs/database.md).
public struct DriverIndex: Codable, Equatable, Sendable {
    /// The only schema this kmodguard reads; a publisher bumps it for incompatible changes.
    public static let schemaVersion = 1
    /// Caps that keep a hostile (yet signed) or broken index from exhausting the client.
    public static let maximumDrivers = 4096
    public static let maximumArtifactSize = 1 << 30

    public var schema: Int
    /// Grows with every publication. Clients refuse an index older than the newest one they
    /// accepted, so an attacker cannot replay an old, validly signed index (with old drivers).
    public var generation: Int
    /// When it was published (RFC 3339, informational).
    public var published: String?
    public var drivers: [DriverEntry]

    public init(generation: Int, published: String? = nil, drivers: [DriverEntry] = []) {
        schema = DriverIndex.schemaVersion
        self.generation = generation
        self.published = published
        self.drivers = drivers
    }

    /// Every field checked: names safe for paths, digests, sizes, kernel releases and ranges.
    public func validate() throws(DriverIndexError) {
        guard schema == DriverIndex.schemaVersion else {
            throw DriverIndexError(field: "schema", reason: "version " + String(schema) + " is not supported (this kmodguard reads "
                                   + String(DriverIndex.schemaVersion) + ")")
        }
        guard generation >= 0 else { throw DriverIndexError(field: "generation", reason: "negative") }
        guard drivers.count <= DriverIndex.maximumDrivers else {
            throw DriverIndexError(field: "drivers", reason: "more than " + String(DriverIndex.maximumDrivers) + " entries")
        }
        var seen: Set<String> = []
        for (index, driver) in drivers.enumerated() {
            let field = "drivers[" + String(index) + "]"
            guard DriverName.isValid(driver.name, extra: [UInt8(ascii: "+")]) else { throw DriverIndexError(field: field + ".name", reason: "'" + driver.name + "' is not a valid driver name") }
            guard DriverVersion(driver.version) != nil else {
                throw DriverIndexError(field: field + ".version", reason: "'" + driver.version + "' is not a valid version")
            }
            guard seen.insert(driver.identity).inserted else { throw DriverIndexError(field: field, reason: driver.identity + " is listed twice") }
            guard !driver.modules.isEmpty else { throw DriverIndexError(field: field + ".modules", reason: "empty") }
            for module in driver.modules where !DriverName.isValid(module) {
                throw DriverIndexError(field: field + ".modules", reason: "'" + module + "' is not a valid module name")
            }
            for (rangeIndex, range) in driver.kernels.enumerated() {
                if let problem = range.problem { throw DriverIndexError(field: field + ".kernels[" + String(rangeIndex) + "]", reason: problem) }
            }
            try Self.validate(driver.source, field: field + ".source")
            let modules = Set(driver.modules.map(DriverName.moduleKey))
            for (kernel, files) in driver.prebuilt {
                let prebuiltField = field + ".prebuilt[" + kernel + "]"
                guard KernelRelease(kernel) != nil else { throw DriverIndexError(field: prebuiltField, reason: "not a kernel release") }
                guard !files.isEmpty else { throw DriverIndexError(field: prebuiltField, reason: "no modules") }
                for (module, artifact) in files {
                    guard DriverName.isValid(module), modules.contains(DriverName.moduleKey(module)) else {
                        throw DriverIndexError(field: prebuiltField, reason: "'" + module + "' is not one of the driver's modules")
                    }
                    try Self.validate(artifact, field: prebuiltField + "[" + module + "]")
                }
            }
        }
    }

    static func validate(_ artifact: DriverArtifact, field: String) throws(DriverIndexError) {
        guard DriverName.isSHA256(artifact.sha256) else { throw DriverIndexError(field: field + ".sha256", reason: "not 64 lowercase hex digits") }
        guard artifact.size >= 0, artifact.size <= DriverIndex.maximumArtifactSize else {
            throw DriverIndexError(field: field + ".size", reason: String(artifact.size) + " is out of range")
        }
        let url = Array(artifact.url.utf8)
        guard !url.isEmpty, url.count <= 4096, !url.contains(where: { $0 <= 0x20 || $0 == 0x7F }) else {
            throw DriverIndexError(field: field + ".url", reason: "empty, too long or contains blanks or control characters")
        }
    }

    /// The driver to use for `kernel`: the newest version that supports it and provides every
    /// module in `modules` (all drivers when empty), optionally only drivers called `name`.
    public func select(kernel: KernelRelease, modules: [String], name: String? = nil) -> DriverSelection? {
        let candidates = drivers.filter { driver in
            (name == nil || driver.name == name) && driver.provides(modules) && driver.supports(kernel)
        }
        guard let newest = candidates.max(by: { lhs, rhs in
            guard let left = DriverVersion(lhs.version), let right = DriverVersion(rhs.version) else { return lhs.version < rhs.version }
            return left < right
        }) else { return nil }
        var prebuilt: [String: DriverArtifact]?
        if let files = newest.prebuilt[kernel.string] {
            let available = Set(files.keys.map(DriverName.moduleKey))
            let wanted = modules.isEmpty ? newest.modules : modules
            if wanted.allSatisfy({ available.contains(DriverName.moduleKey($0)) }) { prebuilt = files }
        }
        return DriverSelection(driver: newest, prebuilt: prebuilt)
    }
}
