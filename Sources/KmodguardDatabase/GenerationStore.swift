import Foundation
package import KmodguardCore
import KmodguardSystem

/// Replay protection: the newest index generation accepted from each database URL, in
/// `ROOT/var/lib/kmodguard/database.json`. An older generation is refused, and so is the same
/// generation with different bytes (a publisher always bumps it).
package struct GenerationStore {
    package struct Record: Codable, Equatable {
        package var generation: Int
        /// SHA-256 of the accepted index.json.
        package var sha256: String
        package var accepted: String
    }

    package struct Document: Codable, Equatable {
        package var indexes: [String: Record] = [:]
    }

    package let path: String

    package init(root: SystemRoot) { path = root.stateDirectory + "/database.json" }

    package func load() throws(DatabaseError) -> Document {
        switch Files.read(path, limit: 16 * 1024 * 1024) {
        case .failure(let error):
            if error.errno == .noSuchFileOrDirectory { return Document() }
            throw .system(error)
        case .success(let bytes):
            do {
                return try JSONDecoder().decode(Document.self, from: Data(bytes))
            } catch {
                throw .state(path: path, reason: "not readable (" + String(describing: error)
                             + "); move it aside to accept the current index as the new baseline")
            }
        }
    }

    /// Throws `.replay` unless `generation` (with these bytes' digest) may be accepted for `url`.
    package func check(url: String, generation: Int, sha256: String) throws(DatabaseError) {
        guard let known = try load().indexes[url] else { return }
        if generation < known.generation || (generation == known.generation && sha256 != known.sha256) {
            throw .replay(url: url, generation: generation, accepted: known.generation, stateFile: path)
        }
    }

    /// Records an accepted index (only ever raising the generation).
    package func record(url: String, generation: Int, sha256: String) throws(DatabaseError) {
        var document = try load()
        if let known = document.indexes[url], known.generation == generation, known.sha256 == sha256 { return }
        document.indexes[url] = Record(generation: generation, sha256: sha256, accepted: WallClock.timestamp())
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(document) else { throw .state(path: path, reason: "cannot encode") }
        if let error = Files.makeDirectories(parentDirectory(path)) { throw .system(error) }
        if let error = Files.replaceAtomically(path, with: Array(data) + [UInt8(ascii: "\n")], mode: 0o644) { throw .system(error) }
    }
}
