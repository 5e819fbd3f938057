package import KmodguardCore
import KmodguardSystem

/// One kernel's rebuild log (`…/logs/initramfs-KVER.log`): kmodguard's notes with the
/// generator's own output between them. Each rebuild starts it afresh.
package struct InitramfsLog {
    package let path: String

    /// Truncates the log to `text`.
    package func start(_ text: String) -> SystemError? {
        Files.replaceAtomically(path, with: Array(text.utf8))
    }

    /// Appends `text` (best effort: a full disk must not turn a good image into a failure).
    package func append(_ text: String) {
        try? OpenFile.append(Array(text.utf8), to: path)
    }

    /// The last `count` non-empty lines that are not kmodguard's own notes.
    package func lastLines(_ count: Int) -> [String] {
        guard case .success(let bytes) = Files.read(path, limit: 64 * 1024 * 1024) else { return [] }
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
            .filter { !$0.hasPrefix(InitramfsLog.notePrefix) && !$0.allSatisfy(\.isWhitespace) }
        return lines.suffix(count).map(String.init)
    }

    package static let notePrefix = "kmodguard: "
}
