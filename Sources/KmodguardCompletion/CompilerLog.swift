/// Reads a Kbuild/make log for the one line a person needs to see first: what broke the build.
///
/// A failed module build prints dozens of lines (include chains, notes, warnings, then make's
/// `*** … Error N` cascade); `status` and the build command show only the cause. The order of
/// preference follows how builds fail: a compiler diagnostic (`file:line:col: error: …`,
/// `fatal error: …`, or a tool's `cc1: error: …`), a modpost failure (`ERROR: modpost: …`,
/// unresolved symbols), a shell's `sh: 1: gcc-12: not found` (a missing tool), and only when none
/// is present make's own first `***` line (a missing rule, a recipe that failed silently).
public enum CompilerLog {
    /// The first line that explains the failure, without surrounding whitespace; nil when the log
    /// has no recognizable error (then the caller points at the log itself).
    public static func firstError(_ log: String) -> String? {
        var firstMakeError: String?
        for rawLine in log.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let line = trimmed(rawLine)
            if isCompilerError(line) || isModpostError(line) || isMissingCommand(line) { return String(line) }
            if firstMakeError == nil, isMakeError(line) { firstMakeError = String(line) }
        }
        return firstMakeError
    }

    /// `path:line[:col]: error: …`, `path:line[:col]: fatal error: …`, or `program: error: …`
    /// (gcc's driver, cc1, ld). The part before the marker must look like a location or a bare
    /// program name, so `-Werror=…` in a verbose (`V=1`) command line or a message quoting
    /// "error:" does not count.
    static func isCompilerError(_ line: Substring) -> Bool {
        for marker in [": error: ", ": fatal error: "] {
            guard let range = line.firstRange(of: marker) else { continue }
            let location = line[line.startIndex..<range.lowerBound]
            if isLocation(location) || isProgramName(location) { return true }
        }
        return false
    }

    /// modpost's `ERROR: modpost: "sym" [x.ko] undefined!` (5.x+) or the older `ERROR: "sym" …`.
    static func isModpostError(_ line: Substring) -> Bool { line.hasPrefix("ERROR: ") }

    /// `/bin/sh: 1: make: not found`: the build cannot even start a tool.
    static func isMissingCommand(_ line: Substring) -> Bool {
        guard line.hasSuffix(": not found"), let colon = line.firstIndex(of: ":") else { return false }
        let shell = line[line.startIndex..<colon]
        return shell == "sh" || shell.hasSuffix("/sh") || shell == "bash" || shell.hasSuffix("/bash")
    }

    /// `make: *** …`, `make[2]: *** …` (also gmake).
    static func isMakeError(_ line: Substring) -> Bool {
        guard line.hasPrefix("make") || line.hasPrefix("gmake"), let range = line.firstRange(of: ": *** ") else { return false }
        return !line[line.startIndex..<range.lowerBound].contains(" ")
    }

    /// `file:12` or `file:12:5` with a non-empty, space-free file part.
    static func isLocation(_ text: Substring) -> Bool {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 3, let file = parts.first, !file.isEmpty, !file.contains(" ") else { return false }
        return parts.dropFirst().allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isASCIIDigitCharacter) }
    }

    /// `cc1`, `gcc-12`, `/usr/bin/ld`: one word without spaces or colons.
    static func isProgramName(_ text: Substring) -> Bool {
        !text.isEmpty && !text.contains(" ") && !text.contains(":") && !text.contains("\t")
    }

    static func trimmed(_ text: Substring) -> Substring {
        var result = text
        while let last = result.last, last == " " || last == "\t" || last == "\r" { result.removeLast() }
        while let first = result.first, first == " " || first == "\t" { result.removeFirst() }
        return result
    }
}

extension Character {
    fileprivate var isASCIIDigitCharacter: Bool { self >= "0" && self <= "9" }
}
