package import KmodguardCompletion
package import KmodguardCore
import KmodguardSystem

/// A driver source tree kmodguard can build: a DKMS tree (`dkms.conf` next to the sources, as in
/// `/usr/src/NAME-VERSION`) or a plain Kbuild tree (a `Kbuild` file or a `Makefile` with `obj-m`).
/// The tree itself is never written to: builds run in a copy.
package struct DriverSource: Sendable {
    package enum Kind: Sendable {
        /// Built the way DKMS builds it: `MAKE[0]`, `PATCH[]`, `BUILD_EXCLUSIVE_*`, `BUILT_MODULE_*`.
        case dkms(DkmsConfig)
        /// `make -C $kernel_source_dir M=$build_dir modules`; the modules are what Kbuild lists in
        /// `modules.order`.
        case kbuild
    }

    /// Absolute path of the tree, symlinks resolved.
    package let directory: String
    /// `PACKAGE_NAME`, or for a Kbuild tree the directory name up to `-VERSION`.
    package let name: String
    /// `PACKAGE_VERSION`, or for a Kbuild tree the directory name after `NAME-` ("0" if none).
    package let version: String
    package let kind: Kind

    package var dkmsConfig: DkmsConfig? {
        if case .dkms(let config) = kind { return config }
        return nil
    }

    /// The modules the source declares (`BUILT_MODULE_NAME[]`); empty means "whatever Kbuild
    /// built", read from `modules.order` after the build.
    package var declaredModules: [DkmsModule] { dkmsConfig?.modules ?? [] }

    /// Reads the tree at `path` (relative paths are taken from the current directory). A
    /// dkms.conf is evaluated with bash as `dkms add` would, for the running kernel
    /// (`DriverBuilder` evaluates it again for the kernel it builds for).
    package static func locate(_ path: String, evaluation: DkmsConfigEvaluation = DkmsConfigEvaluation()) throws(DriverSourceError) -> DriverSource {
        let directory = absolutePath(path)
        guard Files.isDirectory(directory) else { throw .notFound(directory) }
        let dkmsFile = directory + "/dkms.conf"
        if Files.exists(dkmsFile) {
            let base = lastComponent(directory)
            let (guessName, guessVersion) = splitNameVersion(base)
            let kernel = runningKernel()
            let context = DkmsConfigEvaluation.Context(
                kernel: kernel, architecture: DriverBuilder.machine(), kernelSourceDirectory: "/lib/modules/" + kernel + "/build",
                dkmsTree: "/var/lib/dkms", sourceTree: parentDirectory(directory), module: guessName, moduleVersion: guessVersion)
            let config = try evaluation.evaluate(dkmsFile, in: directory, context: context)
            let (name, version) = try identity(config, base: base, file: dkmsFile)
            return try checked(DriverSource(directory: directory, name: name, version: version, kind: .dkms(config)), file: dkmsFile)
        }
        guard isKbuildTree(directory) else { throw .notADriverSource(directory) }
        let (name, version) = splitNameVersion(lastComponent(directory))
        try validate(name, field: "directory name", file: directory)
        try validate(version, field: "directory name", file: directory)
        return DriverSource(directory: directory, name: name, version: version, kind: .kbuild)
    }

    /// DKMS's `-m`/`-v`: `PACKAGE_NAME` (as evaluated), and the version of the source folder
    /// `NAME-VERSION` — DKMS builds under the version it is given, whatever `PACKAGE_VERSION` says
    /// (vendors ship unsubstituted placeholders such as `#MODULE_VERSION#`); a folder not named
    /// `NAME-…` takes `PACKAGE_VERSION`.
    package static func identity(_ config: DkmsConfig, base: String, file: String) throws(DriverSourceError) -> (String, String) {
        guard let name = config.packageName else { throw .missingKey("PACKAGE_NAME", file: file) }
        try validate(name, field: "PACKAGE_NAME", file: file)
        if base.hasPrefix(name + "-"), base.count > name.count + 1 {
            let version = String(base.dropFirst(name.count + 1))
            try validate(version, field: "version of the folder " + base, file: file)
            return (name, version)
        }
        guard let version = config.packageVersion else { throw .missingKey("PACKAGE_VERSION", file: file) }
        try validate(version, field: "PACKAGE_VERSION (the folder is not named " + name + "-VERSION)", file: file)
        return (name, version)
    }

    /// Name validation of the evaluated module names and locations.
    package static func checked(_ source: DriverSource, file: String) throws(DriverSourceError) -> DriverSource {
        for module in source.declaredModules {
            try validate(module.name, field: "BUILT_MODULE_NAME", file: file)
            try validateLocation(module.builtLocation, file: file)
        }
        return source
    }

    /// The same source with its dkms.conf evaluated for `context` (a kernel to build for).
    package func evaluated(_ evaluation: DkmsConfigEvaluation, context: DkmsConfigEvaluation.Context) throws(DriverSourceError) -> DriverSource {
        guard case .dkms = kind else { return self }
        let file = directory + "/dkms.conf"
        let config = try evaluation.evaluate(file, in: directory, context: context)
        return try Self.checked(DriverSource(directory: directory, name: name, version: version, kind: .dkms(config)), file: file)
    }

    /// A digest of the tree: every path, its kind and permission bits, each regular file's bytes
    /// and each symlink's target, in a fixed order. Modification times are left out: `cp -p` and
    /// tar keep them, and a rebuild must follow what the files hold.
    package func contentDigest() throws(SystemError) -> String {
        var digest = ChangeDigest()
        for path in try DirectoryTree.walk(directory) {
            let full = directory + "/" + path
            let status = try FileStatus.of(full)
            digest.add(field: path)
            digest.add(field: String(status.permissions, radix: 8))
            switch status.kind {
            case .directory: digest.add(field: "d")
            case .symbolicLink: digest.add(field: "l" + (try Links.target(of: full)))
            case .regular:
                switch Files.read(full, limit: Self.largestDigestedFile) {
                case .success(let bytes):
                    digest.add(field: "f" + String(bytes.count))
                    digest.add(bytes)
                case .failure(let error): throw error
                }
            case .other: digest.add(field: "o")
            }
        }
        return digest.hex
    }

    /// Source files are kilobytes; a tree holding a larger file (firmware, a prebuilt blob) still
    /// digests, up to this size per file.
    private static let largestDigestedFile = 256 * 1024 * 1024

    /// `uname -r`.
    package static func runningKernel() -> String {
        KernelIdentity.release() ?? ""
    }

    /// The source named by `SOURCE=` in the configuration, a path inside `root`.
    package static func configured(_ config: GuardConfig, root: SystemRoot) throws(DriverSourceError) -> DriverSource {
        guard let source = config.source, !source.isEmpty else { throw .notConfigured(configFile: root.config) }
        return try locate(root.path(source))
    }

    /// A `Kbuild` file, or a `Makefile` that declares `obj-m`/`obj-$(CONFIG_…)` modules.
    package static func isKbuildTree(_ directory: String) -> Bool {
        if Files.exists(directory + "/Kbuild") { return true }
        guard case .success(let bytes) = Files.read(directory + "/Makefile", limit: 1024 * 1024) else { return false }
        let text = String(decoding: bytes, as: UTF8.self)
        return text.contains("obj-m") || text.contains("obj-$(CONFIG_")
    }

    /// `virtio_blk-6.1.192-2` → (`virtio_blk`, `6.1.192-2`): the version starts at the first
    /// `-` followed by a digit, as in `/usr/src/NAME-VERSION`.
    package static func splitNameVersion(_ base: String) -> (String, String) {
        let characters = Array(base)
        for index in characters.indices where characters[index] == "-" && index > 0 && index + 1 < characters.count {
            if characters[index + 1].isNumber {
                return (String(characters[..<index]), String(characters[(index + 1)...]))
            }
        }
        return (base, "0")
    }

    /// Names become directory and file names: no `/`, no leading `.`, nothing a shell would expand.
    package static func validate(_ value: String, field: String, file: String) throws(DriverSourceError) {
        let allowed = value.unicodeScalars.allSatisfy { scalar in
            (scalar >= "a" && scalar <= "z") || (scalar >= "A" && scalar <= "Z") || (scalar >= "0" && scalar <= "9")
                || scalar == "." || scalar == "_" || scalar == "-" || scalar == "+" || scalar == "~"
        }
        guard allowed, !value.isEmpty, !value.hasPrefix("."), !value.hasPrefix("-") else {
            throw .invalidName(field: field, value: value, file: file)
        }
    }

    /// `BUILT_MODULE_LOCATION` is a subdirectory of the build tree: no absolute path, no `..`.
    package static func validateLocation(_ location: String, file: String) throws(DriverSourceError) {
        guard !location.hasPrefix("/"), !location.split(separator: "/").contains("..") else {
            throw .invalidName(field: "BUILT_MODULE_LOCATION", value: location, file: file)
        }
    }

    /// `path` from the current directory, symlinks resolved; a path that does not exist (yet)
    /// only loses its `.` and `..` components, as `URL.resolvingSymlinksInPath` did.
    package static func absolutePath(_ path: String) -> String {
        let absolute = WorkingDirectory.absolute(path)
        return (try? Links.resolved(absolute)) ?? standardized(absolute)
    }

    /// `.`, `..` and repeated slashes taken out of an absolute path without looking at the disk.
    package static func standardized(_ path: String) -> String {
        var components: [Substring] = []
        for component in path.split(separator: "/") where component != "." {
            if component == ".." {
                if !components.isEmpty { components.removeLast() }
            } else {
                components.append(component)
            }
        }
        return "/" + components.joined(separator: "/")
    }

    package static func lastComponent(_ path: String) -> String {
        String(path.split(separator: "/").last ?? Substring(path))
    }
}
