/// A bash variable as `declare -p` prints it: a string, or an indexed array (sparse: the keys
/// are bash's indices). Associative arrays have no place in a dkms.conf and are refused.
public enum ShellValue: Equatable, Sendable {
    case scalar(String)
    case array([Int: String])

    /// `${NAME[i]}`: a scalar is element 0 of itself, as in bash.
    public subscript(index: Int) -> String? {
        switch self {
        case .scalar(let value): return index == 0 ? value : nil
        case .array(let elements): return elements[index]
        }
    }

    /// `${#NAME[@]}`: how many elements are set (not the highest index + 1).
    public var count: Int {
        switch self {
        case .scalar: return 1
        case .array(let elements): return elements.count
        }
    }

    /// `${NAME[0]}`, the value bash gives `$NAME`.
    public var first: String? { self[0] }
}

/// Why `declare -p` output could not be read back.
public struct ShellDeclarationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// 1-based line of the `declare -p` output.
    public let line: Int
    public let reason: String

    public var description: String { "declare -p output line " + String(line) + ": " + reason }
}

/// Reads what bash's `declare -p NAME…` prints (bash 5.x):
///
///     declare -- A="x\"y\$z"
///     declare -- B=$'l1\nl2'
///     declare -a C=([0]="a" [1]="b c" [7]="z")
///     declare -- D                      (declared, never assigned: absent from the result)
///
/// Double-quoted values undo bash's `\"`, `\\`, `\$`, `` \` ``; `$'…'` values its ANSI-C escapes.
public enum ShellDeclarations {
    public static func parse(_ text: String) throws(ShellDeclarationError) -> [String: ShellValue] {
        var reader = Reader(bytes: Array(text.utf8))
        var result: [String: ShellValue] = [:]
        while true {
            reader.skip { $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: " ") }
            if reader.atEnd { return result }
            let (name, value) = try reader.declaration()
            if let value { result[name] = value }
        }
    }

    struct Reader {
        let bytes: [UInt8]
        var index = 0
        var line = 1

        var atEnd: Bool { index >= bytes.count }
        var current: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func advance() {
            if current == UInt8(ascii: "\n") { line += 1 }
            index += 1
        }

        mutating func skip(while predicate: (UInt8) -> Bool) {
            while let byte = current, predicate(byte) { advance() }
        }

        func failure(_ reason: String) -> ShellDeclarationError { ShellDeclarationError(line: line, reason: reason) }

        mutating func expect(_ text: String) throws(ShellDeclarationError) {
            for byte in text.utf8 {
                guard current == byte else { throw failure("expected '" + text + "'") }
                advance()
            }
        }

        /// `declare FLAGS NAME[=VALUE]`, up to the end of its line.
        mutating func declaration() throws(ShellDeclarationError) -> (String, ShellValue?) {
            try expect("declare -")
            let flagsStart = index
            skip { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\n") }
            let flags = String(decoding: bytes[flagsStart..<index], as: UTF8.self)
            try expect(" ")
            let nameStart = index
            skip { isNameByte($0) }
            guard index > nameStart else { throw failure("no variable name") }
            let name = String(decoding: bytes[nameStart..<index], as: UTF8.self)
            guard current == UInt8(ascii: "=") else {
                try endOfLine()
                return (name, nil)
            }
            advance()
            if flags.contains("A") { throw failure(name + " is an associative array") }
            let value: ShellValue
            if flags.contains("a") {
                value = .array(try arrayBody())
            } else {
                value = .scalar(try word())
            }
            try endOfLine()
            return (name, value)
        }

        mutating func endOfLine() throws(ShellDeclarationError) {
            skip { $0 == UInt8(ascii: " ") }
            guard atEnd || current == UInt8(ascii: "\n") else { throw failure("unexpected text after the value") }
        }

        /// `([0]="a" [3]=$'b' )`.
        mutating func arrayBody() throws(ShellDeclarationError) -> [Int: String] {
            try expect("(")
            var elements: [Int: String] = [:]
            while true {
                skip { $0 == UInt8(ascii: " ") }
                if current == UInt8(ascii: ")") {
                    advance()
                    return elements
                }
                try expect("[")
                let start = index
                skip { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
                guard index > start, index - start < 10,
                      let key = Int(String(decoding: bytes[start..<index], as: UTF8.self)) else {
                    throw failure("bad array index")
                }
                try expect("]=")
                elements[key] = try word()
            }
        }

        /// `"…"` or `$'…'` (bash prints every value quoted one of these two ways).
        mutating func word() throws(ShellDeclarationError) -> String {
            if current == UInt8(ascii: "\"") {
                advance()
                var value: [UInt8] = []
                while let byte = current, byte != UInt8(ascii: "\"") {
                    advance()
                    if byte == UInt8(ascii: "\\"), let next = current,
                       next == UInt8(ascii: "\"") || next == UInt8(ascii: "\\") || next == UInt8(ascii: "$")
                        || next == UInt8(ascii: "`") || next == UInt8(ascii: "\n") {
                        advance()
                        if next != UInt8(ascii: "\n") { value.append(next) }
                    } else {
                        value.append(byte)
                    }
                }
                guard current == UInt8(ascii: "\"") else { throw failure("unterminated double quote") }
                advance()
                return String(decoding: value, as: UTF8.self)
            }
            guard current == UInt8(ascii: "$") else { throw failure("expected a quoted value") }
            advance()
            guard current == UInt8(ascii: "'") else { throw failure("expected $'") }
            advance()
            var value: [UInt8] = []
            while let byte = current, byte != UInt8(ascii: "'") {
                advance()
                if byte == UInt8(ascii: "\\") {
                    value += try ansiEscape()
                } else {
                    value.append(byte)
                }
            }
            guard current == UInt8(ascii: "'") else { throw failure("unterminated $' quote") }
            advance()
            return String(decoding: value, as: UTF8.self)
        }

        /// The escape after a backslash in `$'…'`.
        mutating func ansiEscape() throws(ShellDeclarationError) -> [UInt8] {
            guard let byte = current else { throw failure("backslash at the end") }
            advance()
            switch byte {
            case UInt8(ascii: "a"): return [0x07]
            case UInt8(ascii: "b"): return [0x08]
            case UInt8(ascii: "e"), UInt8(ascii: "E"): return [0x1b]
            case UInt8(ascii: "f"): return [0x0c]
            case UInt8(ascii: "n"): return [0x0a]
            case UInt8(ascii: "r"): return [0x0d]
            case UInt8(ascii: "t"): return [0x09]
            case UInt8(ascii: "v"): return [0x0b]
            case UInt8(ascii: "0")...UInt8(ascii: "7"):
                var number = UInt32(byte - UInt8(ascii: "0"))
                var digits = 1
                while digits < 3, let next = current, next >= UInt8(ascii: "0"), next <= UInt8(ascii: "7") {
                    number = number * 8 + UInt32(next - UInt8(ascii: "0"))
                    digits += 1
                    advance()
                }
                return [UInt8(truncatingIfNeeded: number)]
            case UInt8(ascii: "x"):
                var number: UInt32 = 0
                var digits = 0
                while digits < 2, let next = current, let digit = hexDigit(next) {
                    number = number * 16 + digit
                    digits += 1
                    advance()
                }
                guard digits > 0 else { throw failure("\\x without hex digits") }
                return [UInt8(number)]
            default:
                // \\ \' \" \? and anything else: the character itself.
                return [byte]
            }
        }
    }

    static func isNameByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_")
    }

    static func hexDigit(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(byte - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }
}
