public import KmodguardCore

/// One module a DKMS source builds.
public struct DkmsModule: Equatable, Sendable {
    /// `BUILT_MODULE_NAME[i]`: the `.ko` name without extension.
    public var name: String
    /// `BUILT_MODULE_LOCATION[i]`: subdirectory of the build tree holding the `.ko` ("" = top,
    /// else ending in `/`, as DKMS normalizes it).
    public var builtLocation: String
    /// `DEST_MODULE_LOCATION[i]`, kept for reporting; kmodguard always installs to `updates/`.
    public var destination: String
    /// `STRIP[i]`: `strip -g` the module after the build (DKMS's default: yes).
    public var strip: Bool

    public init(name: String, builtLocation: String, destination: String, strip: Bool = true) {
        self.name = name
        self.builtLocation = builtLocation
        self.destination = destination
        self.strip = strip
    }
}

/// A `dkms.conf` as DKMS 3.0.10 reads it. DKMS *sources* the file with bash (kmodguard's
/// `DkmsConfigEvaluation` does the same and reads the variables back with `declare -p`); this
/// type applies DKMS's `read_conf` to those variables: the module arrays (a scalar is element 0;
/// the record count is the largest of the four arrays' sizes; a missing `BUILT_MODULE_NAME` is
/// `PACKAGE_NAME` when there is exactly one `DEST_MODULE_LOCATION`), `MAKE`/`MAKE_MATCH`,
/// `STRIP`, `PATCH`/`PATCH_MATCH`, `BUILD_EXCLUSIVE_*`, `PRE_BUILD`/`POST_BUILD`, and the
/// same "Bad conf file" checks. Keys kmodguard does not implement are refused by name.
public struct DkmsConfig: Equatable, Sendable {
    public var packageName: String?
    public var packageVersion: String?
    public var modules: [DkmsModule] = []
    /// The make command DKMS picks (`MAKE[i]` whose `MAKE_MATCH[i]` matches the kernel, else
    /// `MAKE[0]`), already expanded by bash; nil means DKMS's default
    /// `make -C $kernel_source_dir M=$dkms_tree/$module/$module_version/build`.
    public var make: String?
    public var clean: String?
    /// `BUILD_EXCLUSIVE_KERNEL`: an extended regular expression the kernel release must match.
    public var buildExclusiveKernel: String?
    /// `BUILD_EXCLUSIVE_CONFIG`: `CONFIG_X` (must be y or m) and `!CONFIG_X` (must not be).
    public var buildExclusiveConfig: [String] = []
    /// `BUILD_EXCLUSIVE_ARCH`: an extended regular expression the architecture must match.
    public var buildExclusiveArch: String?
    /// `PATCH[i]` file names under `patches/`, with their optional `PATCH_MATCH[i]` expressions.
    public var patches: [DkmsPatch] = []
    /// `PRE_BUILD`: run from the build directory after patching, before make (a path relative to
    /// it, then arguments); DKMS runs it only if it is executable and ignores its status.
    public var preBuild: String?
    /// `POST_BUILD`: likewise, after the modules are built.
    public var postBuild: String?

    public init() {}

    /// Every variable DKMS 3.0.10 unsets before sourcing a dkms.conf and reads back after
    /// (`dkms_conf_variables`), in its order.
    public static let variableNames = [
        "CLEAN", "PACKAGE_NAME", "PACKAGE_VERSION", "POST_ADD", "POST_BUILD", "POST_INSTALL", "POST_REMOVE", "PRE_BUILD",
        "PRE_INSTALL", "BUILD_DEPENDS", "BUILD_EXCLUSIVE_KERNEL", "BUILD_EXCLUSIVE_ARCH", "BUILD_EXCLUSIVE_CONFIG",
        "build_exclude", "OBSOLETE_BY", "MAKE", "MAKE_MATCH", "PATCH", "PATCH_MATCH", "patch_array", "BUILT_MODULE_NAME",
        "built_module_name", "BUILT_MODULE_LOCATION", "built_module_location", "DEST_MODULE_NAME", "dest_module_name",
        "DEST_MODULE_LOCATION", "dest_module_location", "STRIP", "strip", "AUTOINSTALL", "NO_WEAK_MODULES", "SIGN_FILE",
        "MOK_SIGNING_KEY", "MOK_CERTIFICATE", "REMAKE_INITRD", "MODULES_CONF", "MODULES_CONF_OBSOLETES",
        "MODULES_CONF_ALIAS_TYPE", "MODULES_CONF_OBSOLETE_ONLY",
    ]

    /// Keys DKMS acts on that kmodguard does not: a dkms.conf setting one is refused, never
    /// silently half-built. (`AUTOINSTALL`, `NO_WEAK_MODULES`, `REMAKE_INITRD`, `CLEAN` are
    /// accepted: kmodguard builds every configured source, Debian has no weak modules, kmodguard
    /// always rebuilds and checks the initramfs, and every build starts from a fresh copy.)
    public static let unsupportedKeys = [
        "POST_ADD", "PRE_INSTALL", "POST_INSTALL", "POST_REMOVE", "BUILD_DEPENDS", "OBSOLETE_BY", "DEST_MODULE_NAME",
        "SIGN_FILE", "MOK_SIGNING_KEY", "MOK_CERTIFICATE", "MODULES_CONF", "MODULES_CONF_OBSOLETES",
        "MODULES_CONF_ALIAS_TYPE", "MODULES_CONF_OBSOLETE_ONLY",
    ]

    /// Applies DKMS's `read_conf` to the variables a sourced dkms.conf left (`declare -p`
    /// output, see `ShellDeclarations`) for `kernel`. `matches(pattern, text)` evaluates an
    /// extended regular expression (bash's `=~`, for `MAKE_MATCH`).
    public static func read(_ variables: [String: ShellValue], kernel: String,
                            matches: (String, String) -> Bool) throws(DkmsConfigError) -> DkmsConfig {
        func value(_ name: String) -> String? {
            guard let text = variables[name]?.first, !text.isEmpty else { return nil }
            return text
        }
        var problems: [String] = []
        for key in unsupportedKeys {
            guard let set = variables[key] else { continue }
            if case .array(let elements) = set, elements.values.allSatisfy(\.isEmpty) { continue }
            if case .scalar(let text) = set, text.isEmpty { continue }
            if key == "DEST_MODULE_NAME", case .array(let elements) = set,
               elements.allSatisfy({ $0.value.isEmpty || $0.value == variables["BUILT_MODULE_NAME"]?[$0.key] }) { continue }
            if key == "DEST_MODULE_NAME", case .scalar(let text) = set, text == variables["BUILT_MODULE_NAME"]?.first { continue }
            problems.append(key + " is set, and kmodguard does not support it (remove it, or build this source with DKMS)")
        }
        var config = DkmsConfig()
        config.packageName = value("PACKAGE_NAME")
        config.packageVersion = value("PACKAGE_VERSION")
        config.clean = value("CLEAN")
        config.preBuild = value("PRE_BUILD")
        config.postBuild = value("POST_BUILD")
        config.buildExclusiveKernel = value("BUILD_EXCLUSIVE_KERNEL")
        config.buildExclusiveArch = value("BUILD_EXCLUSIVE_ARCH")
        config.buildExclusiveConfig = value("BUILD_EXCLUSIVE_CONFIG").map(splitWords) ?? []

        let names = variables["BUILT_MODULE_NAME"]
        let locations = variables["BUILT_MODULE_LOCATION"]
        let destinations = variables["DEST_MODULE_LOCATION"]
        let strips = variables["STRIP"]
        let count = [names, locations, variables["DEST_MODULE_NAME"], destinations].map { $0?.count ?? 0 }.max() ?? 0
        var firstStrip = true
        for index in 0..<count {
            var name = names?[index] ?? ""
            if name.isEmpty, destinations?.count == 1, let package = config.packageName { name = package }
            var location = locations?[index] ?? ""
            if !location.isEmpty, location.utf8.last != UInt8(ascii: "/") { location += "/" }
            let destination = destinations?[index] ?? ""
            let stripText = strips?[index] ?? ""
            let strip: Bool
            switch stripText.utf8.first {
            case UInt8(ascii: "n"), UInt8(ascii: "N"): strip = false
            case UInt8(ascii: "y"), UInt8(ascii: "Y"): strip = true
            default: strip = stripText.isEmpty && index > 0 ? firstStrip : true
            }
            if index == 0 { firstStrip = strip }
            let record = " (record #" + String(index) + ")"
            if name.isEmpty { problems.append("no BUILT_MODULE_NAME" + record) }
            if name.hasSuffix(".o") || name.hasSuffix(".ko") { problems.append("BUILT_MODULE_NAME ends in .o or .ko" + record) }
            if destination.isEmpty {
                problems.append("no DEST_MODULE_LOCATION" + record)
            } else if !(destination.hasPrefix("/kernel") || destination.hasPrefix("/updates") || destination.hasPrefix("/extra")) {
                problems.append("DEST_MODULE_LOCATION does not begin with /kernel, /updates or /extra" + record)
            }
            config.modules.append(DkmsModule(name: name, builtLocation: location, destination: destination, strip: strip))
        }
        if count == 0 { problems.append("no DEST_MODULE_LOCATION") }
        if config.packageName == nil { problems.append("no PACKAGE_NAME") }
        if config.packageVersion == nil { problems.append("no PACKAGE_VERSION") }

        // DKMS: MAKE[0] unless MAKE_MATCH[0] is set; then the last MAKE[i] whose MAKE_MATCH[i] matches.
        let makes = variables["MAKE"]
        let makeMatches = variables["MAKE_MATCH"]
        var make = (makeMatches?[0] ?? "").isEmpty ? makes?[0] : nil
        for index in 0..<(makes?.count ?? 0) {
            if let command = makes?[index], !command.isEmpty, let pattern = makeMatches?[index], !pattern.isEmpty,
               matches(pattern, kernel) {
                make = command
            }
        }
        config.make = make.flatMap { $0.isEmpty ? nil : $0 }

        if let patches = variables["PATCH"] {
            for index in 0..<patches.count {
                if let file = patches[index], !file.isEmpty {
                    let match = variables["PATCH_MATCH"]?[index]
                    config.patches.append(DkmsPatch(file: file, match: match.flatMap { $0.isEmpty ? nil : $0 }))
                }
            }
        }
        guard problems.isEmpty else { throw DkmsConfigError(problems: problems) }
        return config
    }
}

/// `PATCH[i]` and its `PATCH_MATCH[i]`.
public struct DkmsPatch: Equatable, Sendable {
    public var file: String
    public var match: String?

    public init(file: String, match: String?) {
        self.file = file
        self.match = match
    }
}

/// Why a source is not built for a kernel (DKMS's exit 77).
public enum BuildExclusion: Equatable, Sendable, CustomStringConvertible {
    case kernel(pattern: String)
    case architecture(pattern: String, actual: String)
    case configMissing(String)
    case configPresent(String)
    case configUnknown(path: String)

    public var description: String {
        switch self {
        case .kernel(let pattern): return "BUILD_EXCLUSIVE_KERNEL=\"" + pattern + "\" does not match this kernel"
        case .architecture(let pattern, let actual):
            return "BUILD_EXCLUSIVE_ARCH=\"" + pattern + "\" does not match " + actual
        case .configMissing(let option): return "BUILD_EXCLUSIVE_CONFIG needs " + option + " but the kernel has it unset"
        case .configPresent(let option): return "BUILD_EXCLUSIVE_CONFIG needs !" + option + " but the kernel sets it"
        case .configUnknown(let path): return "BUILD_EXCLUSIVE_CONFIG cannot be checked: no kernel config at " + path
        }
    }
}

extension DkmsConfig {
    /// The first `BUILD_EXCLUSIVE_*` condition `kernel` fails, or nil when it may be built.
    /// `matches(pattern, text)` evaluates an extended regular expression (the caller's seam).
    public func exclusion(kernel: KernelRelease, architecture: String, kernelConfig: [UInt8]?, configPath: String,
                          matches: (String, String) -> Bool) -> BuildExclusion? {
        if let pattern = buildExclusiveKernel, !matches(pattern, kernel.string) { return .kernel(pattern: pattern) }
        if let pattern = buildExclusiveArch, !matches(pattern, architecture) {
            return .architecture(pattern: pattern, actual: architecture)
        }
        guard !buildExclusiveConfig.isEmpty else { return nil }
        guard let kernelConfig else { return .configUnknown(path: configPath) }
        let enabled = KernelConfig(kernelConfig)
        for option in buildExclusiveConfig {
            if option.utf8.first == UInt8(ascii: "!") {
                let name = String(decoding: option.utf8.dropFirst(), as: UTF8.self)
                if enabled.isSet(name) { return .configPresent(name) }
            } else if !enabled.isSet(option) {
                return .configMissing(option)
            }
        }
        return nil
    }
}

/// A kernel `.config`: which `CONFIG_…` options are `y` or `m`.
public struct KernelConfig: Sendable {
    let set: [String]

    public init(_ bytes: [UInt8]) {
        var names: [String] = []
        for line in ShellAssignmentParser.splitLines(bytes) {
            guard line.starts(with: Array("CONFIG_".utf8)), let equals = line.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let value = line[(equals + 1)...]
            if value.elementsEqual(Array("y".utf8)) || value.elementsEqual(Array("m".utf8)) {
                names.append(String(decoding: line[line.startIndex..<equals], as: UTF8.self))
            }
        }
        set = names.sorted()
    }

    public func isSet(_ option: String) -> Bool {
        var low = 0
        var high = set.count
        while low < high {
            let middle = (low + high) / 2
            if set[middle] < option { low = middle + 1 } else { high = middle }
        }
        return low < set.count && set[low] == option
    }
}
