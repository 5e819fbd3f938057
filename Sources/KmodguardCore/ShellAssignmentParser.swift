/// One `KEY=value` line of a shell-style configuration file.
public struct ShellAssignment: Equatable, Sendable {
    public let key: String
    public let value: String
    public let line: Int
}

/// Why a line of a shell-style file was refused.
public enum ShellSyntaxProblem: Equatable, Sendable {
    case missingEquals
    case invalidKey
    case unterminatedQuote
    /// A character the shell would expand or treat as an operator (`$`, `` ` ``, `\`, `;`, …).
    case unsafeCharacter(String)
    case trailingGarbage
    case notUTF8
}

/// Parses the subset of POSIX shell that both kmodguard and a `. kmodguard.conf` in an initramfs
/// script read the same way: `KEY=value`, `KEY="a b"`, `KEY='a b'`, optional `export `,
/// comments and blank lines. Anything that a shell would expand (variables, command
/// substitution, escapes) is refused rather than guessed at.
public enum ShellAssignmentParser {
    /// Parses `bytes`; calls `problem` for each refused line and keeps going.
    public static func parse(
        _ bytes: [UInt8],
        problem: (Int, String?, ShellSyntaxProblem) -> Void
    ) -> [ShellAssignment] {
        var result: [ShellAssignment] = []
        var lineNumber = 0
        for line in splitLines(bytes) {
            lineNumber += 1
            switch parseLine(line) {
            case .empty:
                continue
            case .assignment(let key, let value):
                result.append(ShellAssignment(key: key, value: value, line: lineNumber))
            case .failure(let key, let reason):
                problem(lineNumber, key, reason)
            }
        }
        return result
    }

    enum LineResult {
        case empty
        case assignment(String, String)
        case failure(String?, ShellSyntaxProblem)
    }

    static func parseLine(_ line: ArraySlice<UInt8>) -> LineResult {
        var index = line.startIndex
        skipBlanks(line, &index)
        if index == line.endIndex || line[index] == UInt8(ascii: "#") { return .empty }
        let exportWord: [UInt8] = Array("export".utf8)
        if line[index...].starts(with: exportWord),
           index + exportWord.count < line.endIndex,
           isBlank(line[index + exportWord.count]) {
            index += exportWord.count
            skipBlanks(line, &index)
        }
        let keyStart = index
        while index < line.endIndex, isKeyByte(line[index]) { index += 1 }
        guard let key = String(validating: line[keyStart..<index], as: UTF8.self) else {
            return .failure(nil, .notUTF8)
        }
        guard index < line.endIndex, line[index] == UInt8(ascii: "=") else {
            return .failure(key.isEmpty ? nil : key, key.isEmpty ? .invalidKey : .missingEquals)
        }
        guard let first = key.utf8.first, !isDigit(first) else { return .failure(key.isEmpty ? nil : key, .invalidKey) }
        index += 1
        var value: [UInt8] = []
        while index < line.endIndex, !isBlank(line[index]) {
            let byte = line[index]
            if byte == UInt8(ascii: "'") {
                guard let close = line[(index + 1)...].firstIndex(of: byte) else {
                    return .failure(key, .unterminatedQuote)
                }
                value += line[(index + 1)..<close]
                index = close + 1
            } else if byte == UInt8(ascii: "\"") {
                guard let close = line[(index + 1)...].firstIndex(of: byte) else {
                    return .failure(key, .unterminatedQuote)
                }
                let inner = line[(index + 1)..<close]
                for innerByte in inner where isExpandingInDoubleQuotes(innerByte) {
                    return .failure(key, .unsafeCharacter(String(decoding: [innerByte], as: UTF8.self)))
                }
                value += inner
                index = close + 1
            } else if isUnsafeUnquoted(byte) {
                return .failure(key, .unsafeCharacter(String(decoding: [byte], as: UTF8.self)))
            } else {
                value.append(byte)
                index += 1
            }
        }
        skipBlanks(line, &index)
        if index < line.endIndex && line[index] != UInt8(ascii: "#") {
            return .failure(key, .trailingGarbage)
        }
        guard let text = String(validating: value, as: UTF8.self) else { return .failure(key, .notUTF8) }
        return .assignment(key, text)
    }

    /// Lines without their newline; a last line without one is kept.
    public static func splitLines(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var lines: [ArraySlice<UInt8>] = []
        var start = bytes.startIndex
        for index in bytes.indices where bytes[index] == UInt8(ascii: "\n") {
            lines.append(bytes[start..<index])
            start = index + 1
        }
        if start < bytes.endIndex { lines.append(bytes[start..<bytes.endIndex]) }
        return lines
    }

    private static func skipBlanks(_ line: ArraySlice<UInt8>, _ index: inout Int) {
        while index < line.endIndex, isBlank(line[index]) { index += 1 }
    }

    private static func isBlank(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r")
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    private static func isKeyByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || isDigit(byte) || byte == UInt8(ascii: "_")
    }

    private static func isExpandingInDoubleQuotes(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "$") || byte == UInt8(ascii: "`") || byte == UInt8(ascii: "\\") || byte < 0x20 && byte != 0x09
    }

    private static func isUnsafeUnquoted(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "$"), UInt8(ascii: "`"), UInt8(ascii: "\\"), UInt8(ascii: ";"), UInt8(ascii: "&"),
             UInt8(ascii: "|"), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "("), UInt8(ascii: ")"),
             UInt8(ascii: "*"), UInt8(ascii: "?"), UInt8(ascii: "["), UInt8(ascii: "{"), UInt8(ascii: "}"),
             UInt8(ascii: "~"), UInt8(ascii: "#"):
            return true
        default:
            return byte < 0x20
        }
    }
}
