package import KmodguardCore
import KmodguardSystem

/// The one way the post-boot commands change grubenv: load it (creating it as grub-editenv would,
/// if asked), apply the typed changes all or nothing, and write the block back in place only when
/// something changed.
package enum GrubenvUpdate {
    /// True when the file was written. A missing file with `createIfMissing: false` is left
    /// missing (nothing to clear in it) and is not an error.
    @discardableResult
    package static func apply(_ changes: [GrubChange], to path: String, createIfMissing: Bool = true) throws(CommandError) -> Bool {
        guard !changes.isEmpty else { return false }
        let file = GrubEnvFile(path: path)
        if !createIfMissing && !Files.exists(path) { return false }
        var block: GrubEnvBlock
        switch file.load(createIfMissing: createIfMissing) {
        case .success(let loaded): block = loaded
        case .failure(let error): throw .grubenv(error)
        }
        let before = block
        do {
            try block.apply(changes)
        } catch {
            throw .grubenvChange(path: path, error)
        }
        guard block != before else { return false }
        if let error = file.save(block) { throw .grubenv(error) }
        return true
    }
}
