public import KmodguardCore

/// Why a grubenv file could not be used.
public enum GrubEnvFileError: Error, Equatable, CustomStringConvertible {
    case system(SystemError)
    case invalid(path: String, GrubEnvError)

    public var description: String {
        switch self {
        case .system(let error): return error.description
        case .invalid(let path, let error):
            return path + ": not a valid GRUB environment block (" + error.description + "); left untouched. "
                + "Recreate it with 'grub-editenv " + path + " create' after saving its contents."
        }
    }
}

/// A grubenv file on disk: read and validated whole, written back in place.
public struct GrubEnvFile {
    public let path: String

    public init(path: String) { self.path = path }

    /// Reads the block; a missing file becomes a new empty block on disk first, as `grub-editenv`
    /// does.
    public func load(createIfMissing: Bool = true) -> Result<GrubEnvBlock, GrubEnvFileError> {
        if createIfMissing && !Files.exists(path) {
            if let error = Files.replaceAtomically(path, with: GrubEnvBlock().bytes) { return .failure(.system(error)) }
        }
        switch Files.read(path, limit: GrubEnvBlock.size * 64) {
        case .failure(let error): return .failure(.system(error))
        case .success(let bytes):
            do {
                return .success(try GrubEnvBlock(bytes))
            } catch {
                return .failure(.invalid(path: path, error))
            }
        }
    }

    /// Writes `block` over the file in place (same inode and size) and fsyncs it.
    public func save(_ block: GrubEnvBlock) -> GrubEnvFileError? {
        Files.overwriteInPlace(path, with: block.bytes).map { .system($0) }
    }
}
