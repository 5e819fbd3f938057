import Foundation
package import KmodguardCore
import KmodguardSystem

/// Reads and writes `PersistentState` atomically (temp file, fsync, rename, fsync directory).
package struct StateStore {
    package let path: String

    package init(root: SystemRoot) { path = root.stateDirectory + "/state.json" }

    /// The stored state; an empty one when the file does not exist yet.
    package func load() throws(CommandError) -> PersistentState {
        switch Files.read(path, limit: 16 * 1024 * 1024) {
        case .failure(let error):
            if error.errno == .noSuchFileOrDirectory { return PersistentState() }
            throw .system(error)
        case .success(let bytes):
            do {
                return try JSONDecoder().decode(PersistentState.self, from: Data(bytes))
            } catch {
                throw .corruptState(path: path, reason: String(describing: error))
            }
        }
    }

    package func save(_ state: PersistentState) throws(CommandError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data: Data
        do {
            data = try encoder.encode(state)
        } catch {
            throw .corruptState(path: path, reason: String(describing: error))
        }
        if let error = Files.makeDirectories(parentDirectory(path)) { throw .system(error) }
        if let error = Files.replaceAtomically(path, with: Array(data) + [UInt8(ascii: "\n")]) { throw .system(error) }
    }
}
