import CSystem
package import KmodguardCore

/// The process's current directory, against which relative paths given on the command line
/// are taken.
package enum WorkingDirectory {
    /// `getcwd(3)`.
    package static func current() throws(SystemError) -> String {
        var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
        let found = buffer.withUnsafeMutableBytes { raw in
            getcwd(raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count) != nil
        }
        guard found else { throw Files.lastError("getcwd", ".") }
        return String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// `path` as an absolute path: unchanged if it is one, else under the current directory
    /// (nothing resolved; an unknown current directory leaves it relative).
    package static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        guard let directory = try? current() else { return path }
        return directory + "/" + path
    }
}
