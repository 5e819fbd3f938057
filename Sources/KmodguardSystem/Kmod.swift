import CKmod
import CSystem
public import KmodguardCore

/// The libkmod seam: one context per kernel module tree (`ROOT/lib/modules/KVER`).
public final class KmodContext {
    let context: OpaquePointer
    public let modulesDirectory: String
    private var referenceVermagic: String??

    /// Nil when libkmod cannot set up a context for the directory.
    public init?(root: SystemRoot, kernel: KernelRelease) {
        let directory = root.modules(kernel)
        modulesDirectory = directory
        let configDirectories = ["/etc/modprobe.d", "/run/modprobe.d", "/usr/local/lib/modprobe.d", "/lib/modprobe.d"]
            .map { root.path($0) }
        var pointers: [UnsafePointer<CChar>?] = configDirectories.map { UnsafePointer(strdup($0)) }
        pointers.append(nil)
        defer { for pointer in pointers { free(UnsafeMutablePointer(mutating: pointer)) } }
        guard let created = pointers.withUnsafeBufferPointer({ kmod_new(directory, $0.baseAddress) }) else { return nil }
        context = created
        // libkmod's own complaints would duplicate ours on the console.
        kmod_set_log_priority(context, 2)
    }

    deinit { kmod_unref(context) }

    /// Checks, without inserting, that `name` resolves with every dependency file present and
    /// built for this tree's kernel.
    public func check(_ name: String, kernel: KernelRelease) -> ModuleLoadFailure? {
        withModules(name) { module in
            if let failure = checkFiles(module, kernel: kernel) { return failure }
            let result = kmod_module_probe_insert_module(module, UInt32(KMOD_PROBE_DRY_RUN.rawValue), nil, nil, nil, nil)
            return result < 0 ? failure(forErrno: -result, module: module, kernel: kernel) : nil
        }
    }

    /// Inserts `name` and its dependencies into the running kernel (already loaded is fine).
    public func load(_ name: String, kernel: KernelRelease) -> ModuleLoadFailure? {
        withModules(name) { module in
            let result = kmod_module_probe_insert_module(module, 0, nil, nil, nil, nil)
            return result < 0 ? failure(forErrno: -result, module: module, kernel: kernel) : nil
        }
    }

    /// Loads the module providing a filesystem (`fs-ext4` alias); best effort.
    public func loadFilesystem(_ type: String, kernel: KernelRelease) {
        _ = withModules("fs-" + type) { module in
            _ = kmod_module_probe_insert_module(module, 0, nil, nil, nil, nil)
            return nil
        }
    }

    /// The vermagic string in a module's .modinfo, trimmed.
    public func vermagic(_ module: OpaquePointer) -> String? {
        var info: OpaquePointer?
        guard kmod_module_get_info(module, &info) >= 0, let info else { return nil }
        defer { kmod_module_info_free_list(info) }
        var entry: OpaquePointer? = info
        while let current = entry {
            if let key = kmod_module_info_get_key(current), String(cString: key) == "vermagic",
               let value = kmod_module_info_get_value(current) {
                return trimmed(String(cString: value))
            }
            entry = kmod_list_next(info, current)
        }
        return nil
    }

    /// What this tree's kernel expects: the vermagic of an in-tree module (first line of
    /// modules.dep), nil when the tree has none.
    func kernelVermagic() -> String? {
        if let cached = referenceVermagic { return cached }
        var result: String?
        if case .success(let bytes) = Files.read(modulesDirectory + "/modules.dep", limit: 64 * 1024 * 1024),
           let lineEnd = bytes.firstIndex(of: UInt8(ascii: ":")) {
            let relative = String(decoding: bytes[..<lineEnd], as: UTF8.self)
            var module: OpaquePointer?
            if kmod_module_new_from_path(context, modulesDirectory + "/" + relative, &module) >= 0, let module {
                result = vermagic(module)
                kmod_module_unref(module)
            }
        }
        referenceVermagic = .some(result)
        return result
    }

    func withModules(_ name: String, _ body: (OpaquePointer) -> ModuleLoadFailure?) -> ModuleLoadFailure? {
        var list: OpaquePointer?
        let error = kmod_module_new_from_lookup(context, name, &list)
        if error < 0 { return .other(errno: Errno(rawValue: -error), message: "lookup failed: " + Files.errorText(-error)) }
        guard let list else { return .notFound }
        defer { kmod_module_unref_list(list) }
        var entry: OpaquePointer? = list
        while let current = entry {
            if let module = kmod_module_get_module(current) {
                let failure = body(module)
                kmod_module_unref(module)
                if let failure { return failure }
            }
            entry = kmod_list_next(list, current)
        }
        return nil
    }

    func checkFiles(_ module: OpaquePointer, kernel: KernelRelease) -> ModuleLoadFailure? {
        var modules: [OpaquePointer] = [module]
        let dependencies = kmod_module_get_dependencies(module)
        defer { if let dependencies { kmod_module_unref_list(dependencies) } }
        var entry = dependencies
        while let current = entry {
            if let dependency = kmod_module_get_module(current) { modules.append(dependency) }
            entry = kmod_list_next(dependencies, current)
        }
        defer { for dependency in modules.dropFirst() { kmod_module_unref(dependency) } }
        for candidate in modules {
            // Built-in modules have no file and always match.
            guard let rawPath = kmod_module_get_path(candidate) else { continue }
            let path = String(cString: rawPath)
            guard Files.exists(path) else { return .missingFile(path) }
            guard let found = vermagic(candidate) else { return .other(errno: .invalidArgument, message: path + " has no vermagic") }
            if let expected = kernelVermagic() {
                if found != expected { return .vermagicMismatch(module: found, kernel: expected) }
            } else if firstWord(found) != kernel.string {
                return .vermagicMismatch(module: found, kernel: kernel.string)
            }
        }
        return nil
    }

    func failure(forErrno code: Int32, module: OpaquePointer, kernel: KernelRelease) -> ModuleLoadFailure {
        switch code {
        case ENOEXEC:
            return .vermagicMismatch(module: vermagic(module) ?? "?", kernel: kernelVermagic() ?? kernel.string)
        case EKEYREJECTED:
            return .signatureRejected
        case ENOENT:
            if let rawPath = kmod_module_get_path(module), !Files.exists(String(cString: rawPath)) {
                return .missingFile(String(cString: rawPath))
            }
            return .unknownSymbol
        default:
            return .other(errno: Errno(rawValue: code), message: Files.errorText(code))
        }
    }
}

func trimmed(_ text: String) -> String {
    var bytes = Array(text.utf8)
    while let last = bytes.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\n") { bytes.removeLast() }
    return String(decoding: bytes, as: UTF8.self)
}

func firstWord(_ text: String) -> String {
    String(decoding: text.utf8.prefix(while: { $0 != UInt8(ascii: " ") }), as: UTF8.self)
}
