import KmodguardSystem

/// Whether an image holds the required modules for its kernel — and the very file depmod
/// resolves each name to (`modules.dep`): after a rebuilt driver went into `updates/`, an image
/// with the in-tree module of the same name would still boot without it.
package struct InitramfsModuleCheck: Sendable, Equatable {
    /// A module the image has, but not from the file the kernel's modules.dep names.
    package struct Outdated: Sendable, Equatable {
        package var module: String
        /// Where the image has it.
        package var imagePath: String
        /// The file modprobe would load from the module tree.
        package var treePath: String
    }

    /// Required module → its path in the image.
    package var present: [String: String] = [:]
    /// Required modules the image lacks, as requested.
    package var missing: [String] = []
    package var outdated: [Outdated] = []

    /// Every required module is inside, from the file depmod resolves it to.
    package var isComplete: Bool { missing.isEmpty && outdated.isEmpty }

    /// Checks `listing` for `modules` of `kernel`, whose module tree is `modulesDirectory`. A
    /// module that modules.dep does not list (not installed for this kernel) counts wherever it is.
    package init(listing: InitramfsListing, modules: [String], kernel: String, modulesDirectory: String) {
        let resolved = Self.resolvedModules(modulesDirectory + "/modules.dep")
        for module in modules {
            let files = listing.moduleFiles(module, kernel: kernel)
            guard let first = files.first else {
                missing.append(module)
                continue
            }
            guard let expected = resolved[InitramfsModuleName.normalized(module)] else {
                present[module] = first.path
                continue
            }
            guard let match = files.first(where: { $0.relative == expected }) else {
                outdated.append(Outdated(module: module, imagePath: first.path, treePath: modulesDirectory + "/" + expected))
                continue
            }
            present[module] = match.path
        }
    }

    /// Normalized module name → its file relative to the module tree, as modules.dep lists it
    /// (one entry per name: the one depmod chose, `updates/` before `kernel/`).
    private static func resolvedModules(_ modulesDep: String) -> [String: String] {
        guard case .success(let bytes) = Files.read(modulesDep, limit: 64 * 1024 * 1024) else { return [:] }
        var resolved: [String: String] = [:]
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            var path = String(line[..<colon])
            // Old depmod versions wrote absolute paths.
            if let range = path.range(of: "/lib/modules/"), let slash = path[range.upperBound...].firstIndex(of: "/") {
                path = String(path[path.index(after: slash)...])
            }
            if let name = InitramfsModuleName.ofFile(path), resolved[name] == nil { resolved[name] = path }
        }
        return resolved
    }
}
