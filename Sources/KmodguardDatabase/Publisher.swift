import Foundation
import KmodguardBuilder
package import KmodguardCompletion
package import KmodguardCore
package import KmodguardSystem

/// Writes a driver database tree (`kmodguard publish`): the source as a reproducible tarball,
/// prebuilt modules, and a new signed index with a higher generation. Artifacts get
/// content-derived names and are written before the index, so a client reading during a
/// publication sees the old index with its old files or the new one with its new files.
package struct Publisher {
    package let root: SystemRoot
    package let runner: any ProcessRunning
    /// Builds a module set for a kernel (the driver builder); nil rejects `--prebuilt KVER`.
    package var build: ((String, KernelRelease) throws(DatabaseError) -> [(name: String, path: String)])?

    package init(root: SystemRoot, runner: any ProcessRunning = LiveProcessRunner()) {
        self.root = root
        self.runner = runner
    }

    package struct Result {
        package let index: DriverIndex
        package let driver: DriverEntry
        package let indexPath: String
    }

    package func publish(_ request: PublishRequest) throws(DatabaseError) -> Result {
        let key = try SigningKey.load(request.keyFile)
        let source: DriverSource
        do {
            source = try DriverSource.locate(request.source)
        } catch {
            throw .usage(error.description)
        }
        let name = request.name ?? source.name
        let version = request.version ?? source.version
        guard DriverName.isValid(name, extra: [UInt8(ascii: "+")]) else { throw .usage("'" + name + "' is not a valid driver name") }
        guard DriverVersion(version) != nil else { throw .usage("'" + version + "' is not a valid driver version") }
        let identity = name + "-" + version
        let output = request.output
        if let error = Files.makeDirectories(output + "/sources") { throw .system(error) }

        // Prebuilt modules: built here with the driver builder, or given as files.
        var prebuiltFiles: [(kernel: KernelRelease, name: String, path: String)] = []
        for kernel in request.buildFor {
            guard let build else {
                throw .usage("building for " + kernel.string + " needs the driver builder; pass --prebuilt-module "
                             + kernel.string + "=PATH.ko instead")
            }
            for module in try build(source.directory, kernel) { prebuiltFiles.append((kernel, module.name, module.path)) }
        }
        for given in request.prebuiltModules {
            let base = String(given.path.split(separator: "/").last ?? "")
            guard base.hasSuffix(".ko"), base.count > 3 else { throw .usage(given.path + ": a prebuilt module must be a .ko file") }
            prebuiltFiles.append((given.kernel, String(base.dropLast(3)), given.path))
        }
        var modules = request.modules.isEmpty ? source.declaredModules.map(\.name) : request.modules
        if modules.isEmpty {
            for file in prebuiltFiles where !modules.contains(file.name) { modules.append(file.name) }
        }
        guard !modules.isEmpty else {
            throw .usage(source.directory + " declares no BUILT_MODULE_NAME; name the modules with --module NAME")
        }
        for module in modules where !DriverName.isValid(module) { throw .usage("'" + module + "' is not a valid module name") }
        for range in request.kernels {
            if let problem = range.problem { throw .usage("--kernels " + range.description + ": " + problem) }
        }

        let tarball = try writeTarball(source.directory, identity: identity, output: output)
        var prebuilt: [String: [String: DriverArtifact]] = [:]
        let vermagic = ModuleVermagic(root: root, runner: runner)
        for file in prebuiltFiles {
            guard modules.map(DriverName.moduleKey).contains(DriverName.moduleKey(file.name)) else {
                throw .usage(file.path + ": " + file.name + " is not one of the driver's modules (" + modules.joined(separator: ", ") + ")")
            }
            if request.checkVermagic {
                let found = try vermagic.read(file.path)
                guard found.split(separator: " ").first.map(String.init) == file.kernel.string else {
                    throw .vermagic(url: file.path, module: file.name, found: found, expected: file.kernel.string + " …")
                }
            }
            prebuilt[file.kernel.string, default: [:]][file.name] = try writePrebuilt(file.path, module: file.name,
                                                                                    kernel: file.kernel, output: output)
        }
        let artifactURL = { (relative: String) -> String in
            guard var base = request.baseURL else { return relative }
            while base.hasSuffix("/") { base.removeLast() }
            return base + "/" + relative
        }
        let sourceArtifact = DriverArtifact(url: artifactURL(tarball.relative), sha256: tarball.sha256, size: tarball.size)
        prebuilt = prebuilt.mapValues { files in
            files.mapValues { DriverArtifact(url: artifactURL($0.url), sha256: $0.sha256, size: $0.size) }
        }

        var index = try existingIndex(output, key: key) ?? DriverIndex(generation: 0)
        var entry = DriverEntry(name: name, version: version, modules: modules, kernels: request.kernels,
                                source: sourceArtifact, prebuilt: prebuilt)
        if let position = index.drivers.firstIndex(where: { $0.identity == identity }) {
            let previous = index.drivers[position]
            if request.kernels.isEmpty { entry.kernels = previous.kernels }
            // Prebuilt modules of an unchanged source stay valid; a new source makes them stale.
            if previous.source.sha256 == sourceArtifact.sha256 {
                for (kernel, files) in previous.prebuilt where entry.prebuilt[kernel] == nil { entry.prebuilt[kernel] = files }
            }
            index.drivers[position] = entry
        } else {
            index.drivers.append(entry)
        }
        index.drivers.sort { lhs, rhs in
            if lhs.name != rhs.name { return lhs.name < rhs.name }
            guard let left = DriverVersion(lhs.version), let right = DriverVersion(rhs.version) else { return lhs.version < rhs.version }
            return left < right
        }
        index.generation = max(index.generation + 1, Int(Date().timeIntervalSince1970))
        index.published = WallClock.timestamp()
        do {
            try index.validate()
        } catch {
            throw .index(url: output + "/index.json", reason: error.description)
        }
        try Self.writeSigned(index, to: output, key: key)
        return Result(index: index, driver: entry, indexPath: output + "/index.json")
    }

    /// The index already in `output`, which must be signed by `key` (a database is extended
    /// only by its own publisher); nil when there is none.
    package func existingIndex(_ output: String, key: SigningKey) throws(DatabaseError) -> DriverIndex? {
        let path = output + "/index.json"
        guard Files.exists(path) else { return nil }
        let bytes: [UInt8]
        let signatureBytes: [UInt8]
        switch (Files.read(path, limit: DriverDatabase.indexLimit), Files.read(path + ".sig", limit: DriverDatabase.signatureLimit)) {
        case (.success(let index), .success(let signature)):
            bytes = index
            signatureBytes = signature
        case (.failure(let error), _), (_, .failure(let error)):
            throw .system(error)
        }
        let signature = try IndexSignature.parse(signatureBytes, url: path + ".sig")
        guard key.publicKey.verifies(signature.signature, of: bytes) else {
            throw .usage(path + " is not signed by the publishing key " + key.publicKey.id
                         + "; extend a database only with its own key, or publish into a new directory")
        }
        return try IndexCodec.decode(bytes, url: path)
    }

    /// Signs and writes `index` (index.json, then index.json.sig), each atomically.
    package static func writeSigned(_ index: DriverIndex, to output: String, key: SigningKey) throws(DatabaseError) {
        let bytes = try IndexCodec.encode(index)
        let signature = try key.sign(bytes)
        if let error = Files.makeDirectories(output) { throw .system(error) }
        if let error = Files.replaceAtomically(output + "/index.json", with: bytes) { throw .system(error) }
        if let error = Files.replaceAtomically(output + "/index.json.sig", with: Array(signature.fileText.utf8)) { throw .system(error) }
    }

    /// `sources/NAME-VERSION-SHA12.tar.gz`, reproducible for the same tree.
    private func writeTarball(_ directory: String, identity: String, output: String) throws(DatabaseError)
        -> (relative: String, sha256: String, size: Int) {
        var writer = TarWriter()
        for entry in try SourceTree.entries(directory, prefix: identity) { writer.append(entry) }
        let temporary = output + "/sources/." + identity + "-" + String(ProcessIdentity.pid) + ".tar"
        defer {
            FileNames.removeIgnoringErrors(temporary)
            FileNames.removeIgnoringErrors(temporary + ".gz")
        }
        if let error = Files.replaceAtomically(temporary, with: writer.finish()) { throw .system(error) }
        let compressed = try Gzip.compress(temporary, runner: runner)
        let digest = try FileDigest.sha256(file: compressed)
        let relative = "sources/" + identity + "-" + String(digest.digest.prefix(12)) + ".tar.gz"
        do {
            try FileNames.rename(compressed, to: output + "/" + relative)
        } catch {
            throw .system(error)
        }
        return (relative, digest.digest, digest.size)
    }

    /// `prebuilt/KVER/MODULE-SHA12.ko`.
    private func writePrebuilt(_ path: String, module: String, kernel: KernelRelease, output: String) throws(DatabaseError) -> DriverArtifact {
        let bytes: [UInt8]
        switch Files.read(path, limit: DriverIndex.maximumArtifactSize) {
        case .success(let read): bytes = read
        case .failure(let error): throw .system(error)
        }
        let digest = FileDigest.sha256(bytes)
        let relative = "prebuilt/" + kernel.string + "/" + module + "-" + String(digest.prefix(12)) + ".ko"
        if let error = Files.makeDirectories(output + "/prebuilt/" + kernel.string) { throw .system(error) }
        if let error = Files.replaceAtomically(output + "/" + relative, with: bytes) { throw .system(error) }
        return DriverArtifact(url: relative, sha256: digest, size: bytes.count)
    }
}

extension Publisher {
    /// `--prebuilt KVER` through the driver builder (same rules as `kmodguard build`).
    package static func driverBuilder(root: SystemRoot) -> (String, KernelRelease) throws(DatabaseError) -> [(name: String, path: String)] {
        { (directory: String, kernel: KernelRelease) throws(DatabaseError) -> [(name: String, path: String)] in
            let source: DriverSource
            do {
                source = try DriverSource.locate(directory)
            } catch {
                throw .usage(String(describing: error))
            }
            do {
                let output = try DriverBuilder.build(source: source, kernel: kernel, root: root)
                return output.modules.map { ($0.name, $0.path) }
            } catch {
                throw .usage("building " + source.name + " " + source.version + " for " + kernel.string + ": " + String(describing: error))
            }
        }
    }
}
