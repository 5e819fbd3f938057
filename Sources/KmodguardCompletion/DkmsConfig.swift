public import KmodguardCore

/// One module a DKMS source builds.
public struct DkmsModule: Equatable, Sendable {
    /// `BUILT_MODULE_NAME[i]`: the `.ko` name without extension.
    public var name: String
    /// `BUILT_MODULE_LOCATION[i]`: subdirectory of the build tree holding the `.ko` ("" = top).
    public var builtLocation: String
    /// `DEST_MODULE_LOCATION[i]`, kept for reporting; kmodguard always installs to `updates/`.
    public var destination: String

    public init(name: String, builtLocation: String, destination: String) {
        self.name = name
        self.builtLocation = builtLocation
        self.destination = destination
    }
}

/// The parts of a `dkms.conf` kmodguard uses. DKMS sources the file with bash; kmodguard reads
/// its assignments (`KEY=…`, `KEY[N]=…`) and keeps values verbatim, so that `$kernelver` and
/// friends in `MAKE[0]` are expanded by `/bin/sh` at build time with DKMS's variables set.
public struct DkmsConfig: Equatable, Sendable {
    public var packageName: String?
    public var packageVersion: String?
    public var modules: [DkmsModule] = []
    /// `MAKE[0]`; nil means DKMS's default `make -C $kernel_source_dir M=$build_dir`.
    public var make: String?
    public var clean: String?
    /// `BUILD_EXCLUSIVE_KERNEL`: an extended regular expression the kernel release must match.
    public var buildExclusiveKernel: String?
    /// `BUILD_EXCLUSIVE_CONFIG`: `CONFIG_X` (must be y or m) and `!CONFIG_X` (must not be).
    public var buildExclusiveConfig: [String] = []
    /// `BUILD_EXCLUSIVE_ARCH`: an extended regular expression the architecture must match.
    public var buildExclusiveArch: String?
    /// `PATCH[i]` file names under `patches/`, with their optional `PATCH_MATCH[i]` expressions.
    public var patches: [(file: String, match: String?)] = []
    /// Lines that are not plain assignments (shell code DKMS would run); reported, not run.
    public var unsupportedLines: [Int] = []

    public init() {}

    public static func == (lhs: DkmsConfig, rhs: DkmsConfig) -> Bool {
        lhs.packageName == rhs.packageName && lhs.packageVersion == rhs.packageVersion && lhs.modules == rhs.modules
            && lhs.make == rhs.make && lhs.clean == rhs.clean && lhs.buildExclusiveKernel == rhs.buildExclusiveKernel
            && lhs.buildExclusiveConfig == rhs.buildExclusiveConfig && lhs.buildExclusiveArch == rhs.buildExclusiveArch
            && lhs.patches.map { $0.file } == rhs.patches.map { $0.file } && lhs.patches.map { $0.match } == rhs.patches.map { $0.match }
            && lhs.unsupportedLines == rhs.unsupportedLines
    }

    /// Parses the text of a dkms.conf. Never fails: what cannot be read is listed in
    /// `unsupportedLines`, and a source without `BUILT_MODULE_NAME` has no modules.
    public static func parse(_ bytes: [UInt8]) -> DkmsConfig {
        var scalars: [String: String] = [:]
        var arrays: [String: [Int: String]] = [:]
        var unsupported: [Int] = []
        var lineNumber = 0
        for line in ShellAssignmentParser.splitLines(bytes) {
            lineNumber += 1
            guard let assignment = parseAssignment(line) else {
                if !isBlankOrComment(line) { unsupported.append(lineNumber) }
                continue
            }
            if let index = assignment.index {
                arrays[assignment.key, default: [:]][index] = assignment.value
            } else {
                scalars[assignment.key] = assignment.value
            }
        }
        var config = DkmsConfig()
        config.unsupportedLines = unsupported
        config.packageName = scalars["PACKAGE_NAME"]
        config.packageVersion = scalars["PACKAGE_VERSION"]
        config.make = arrays["MAKE"]?[0] ?? scalars["MAKE"]
        config.clean = scalars["CLEAN"]
        config.buildExclusiveKernel = scalars["BUILD_EXCLUSIVE_KERNEL"].flatMap { $0.isEmpty ? nil : $0 }
        config.buildExclusiveArch = scalars["BUILD_EXCLUSIVE_ARCH"].flatMap { $0.isEmpty ? nil : $0 }
        config.buildExclusiveConfig = scalars["BUILD_EXCLUSIVE_CONFIG"].map(splitWords) ?? []
        let names = arrays["BUILT_MODULE_NAME"] ?? scalars["BUILT_MODULE_NAME"].map { [0: $0] } ?? [:]
        for index in names.keys.sorted() {
            guard let name = names[index], !name.isEmpty else { continue }
            config.modules.append(DkmsModule(
                name: name,
                builtLocation: arrays["BUILT_MODULE_LOCATION"]?[index] ?? "",
                destination: arrays["DEST_MODULE_LOCATION"]?[index] ?? ""))
        }
        let patches = arrays["PATCH"] ?? [:]
        for index in patches.keys.sorted() {
            if let file = patches[index], !file.isEmpty {
                config.patches.append((file, arrays["PATCH_MATCH"]?[index]))
            }
        }
        return config
    }

    static func isBlankOrComment(_ line: ArraySlice<UInt8>) -> Bool {
        guard let first = line.first(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") && $0 != UInt8(ascii: "\r") }) else {
            return true
        }
        return first == UInt8(ascii: "#")
    }

    /// `KEY=value` / `KEY[N]=value` with the value's quotes removed and `$…` kept.
    static func parseAssignment(_ line: ArraySlice<UInt8>) -> (key: String, index: Int?, value: String)? {
        var i = line.startIndex
        while i < line.endIndex, line[i] == UInt8(ascii: " ") || line[i] == UInt8(ascii: "\t") { i += 1 }
        if line[i...].starts(with: Array("export ".utf8)) { i += 7 }
        let keyStart = i
        while i < line.endIndex, isNameByte(line[i]) { i += 1 }
        guard i > keyStart, i < line.endIndex else { return nil }
        let key = String(decoding: line[keyStart..<i], as: UTF8.self)
        var index: Int?
        if line[i] == UInt8(ascii: "[") {
            guard let close = line[i...].firstIndex(of: UInt8(ascii: "]")),
                  let number = parseInteger(String(decoding: line[(i + 1)..<close], as: UTF8.self), in: 0...999) else { return nil }
            index = number
            i = close + 1
        }
        guard i < line.endIndex, line[i] == UInt8(ascii: "=") else { return nil }
        i += 1
        var value: [UInt8] = []
        while i < line.endIndex {
            let byte = line[i]
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                guard let close = line[(i + 1)...].firstIndex(of: byte) else { return nil }
                value += line[(i + 1)..<close]
                i = close + 1
            } else if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r") {
                // Only a comment may follow an unquoted value.
                var j = i
                while j < line.endIndex, line[j] == UInt8(ascii: " ") || line[j] == UInt8(ascii: "\t") || line[j] == UInt8(ascii: "\r") { j += 1 }
                guard j == line.endIndex || line[j] == UInt8(ascii: "#") else { return nil }
                break
            } else if byte == UInt8(ascii: ";") {
                return nil
            } else {
                value.append(byte)
                i += 1
            }
        }
        return (key, index, String(decoding: value, as: UTF8.self))
    }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_")
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
