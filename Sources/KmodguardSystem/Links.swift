import CSystem
package import KmodguardCore

/// Symbolic and hard links: creating them, reading a symlink's target, resolving a path to the
/// file it names.
package enum Links {
    /// `symlink(2)`: a new link at `path` holding `target` verbatim (not checked, not resolved).
    package static func makeSymbolic(_ path: String, to target: String) throws(SystemError) {
        guard symlink(target, path) == 0 else { throw Files.lastError("symlink", path) }
    }

    /// `link(2)`: a second name `path` for the existing file `existing`.
    package static func makeHard(_ path: String, to existing: String) throws(SystemError) {
        guard link(existing, path) == 0 else { throw Files.lastError("link", path) }
    }

    /// `readlink(2)`: the target a symlink holds, byte for byte.
    package static func target(of path: String) throws(SystemError) -> String {
        var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = buffer.withUnsafeMutableBytes { raw in
            readlink(path, raw.baseAddress!.assumingMemoryBound(to: CChar.self), Int(PATH_MAX))
        }
        guard count >= 0 else { throw Files.lastError("readlink", path) }
        return String(decoding: buffer[0..<count], as: UTF8.self)
    }

    /// `realpath(3)`: the absolute path of the file `path` names, every symlink, `.` and `..`
    /// resolved. Fails (ENOENT) when some component does not exist.
    package static func resolved(_ path: String) throws(SystemError) -> String {
        guard let resolved = realpath(path, nil) else { throw Files.lastError("realpath", path) }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
