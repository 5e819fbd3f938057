/// Why a GRUB environment block operation was refused.
public enum GrubEnvError: Error, Equatable, Sendable {
    /// Not exactly `GrubEnvBlock.size` bytes.
    case wrongSize(Int)
    /// Does not start with `# GRUB Environment Block\n`.
    case badHeader
    /// The variables area is not well-formed (GRUB would refuse to change it too).
    case malformed
    /// The variable does not fit in the block.
    case noSpace(name: String)
    /// `NAME=VALUE` expected.
    case invalidAssignment(String)
}

/// GRUB's 1024-byte environment block (`/boot/grub/grubenv`), edited with exactly the byte-level
/// algorithm of GRUB's `lib/envblk.c`, so that a file changed here is byte-identical to one
/// changed by `grub-editenv` and readable by GRUB's `load_env`.
///
/// Layout: the header line, then `name=value\n` lines (a `\` or newline in a value is escaped
/// with `\`), then `#` padding up to the fixed size.
public struct GrubEnvBlock: Equatable, Sendable {
    public static let size = 1024
    public static let header: [UInt8] = Array("# GRUB Environment Block\n".utf8)

    public private(set) var bytes: [UInt8]

    /// A new, empty block: what `grub-editenv FILE create` writes.
    public init() {
        bytes = GrubEnvBlock.header + [UInt8](repeating: UInt8(ascii: "#"), count: GrubEnvBlock.size - GrubEnvBlock.header.count)
    }

    /// Validates size and header; the content is interpreted as GRUB does.
    public init(_ bytes: [UInt8]) throws(GrubEnvError) {
        guard bytes.count == GrubEnvBlock.size else { throw .wrongSize(bytes.count) }
        guard bytes.starts(with: GrubEnvBlock.header) else { throw .badHeader }
        self.bytes = bytes
    }

    /// The variables in block order, unescaped (`grub-editenv list`).
    public var variables: [(name: String, value: String)] {
        var result: [(name: String, value: String)] = []
        var p = GrubEnvBlock.header.count
        let end = bytes.count
        while p < end {
            if bytes[p] != UInt8(ascii: "#") {
                let nameStart = p
                while p < end && bytes[p] != UInt8(ascii: "=") { p += 1 }
                if p == end { return result }
                let nameEnd = p
                p += 1
                let valueStart = p
                while p < end {
                    if bytes[p] == UInt8(ascii: "\\") {
                        p += 1
                    } else if bytes[p] == UInt8(ascii: "\n") {
                        break
                    }
                    p += 1
                }
                if p >= end { return result }
                var value: [UInt8] = []
                var q = valueStart
                while q < p {
                    if bytes[q] == UInt8(ascii: "\\") { q += 1 }
                    if q < p { value.append(bytes[q]) }
                    q += 1
                }
                result.append((String(decoding: bytes[nameStart..<nameEnd], as: UTF8.self), String(decoding: value, as: UTF8.self)))
            }
            p = nextLine(p)
        }
        return result
    }

    /// The value of `name`, or nil.
    public func value(_ name: String) -> String? {
        for variable in variables where variable.name == name { return variable.value }
        return nil
    }

    /// `grub-editenv set NAME=VALUE`. Leaves the block unchanged when it throws.
    public mutating func set(_ name: String, _ value: String) throws(GrubEnvError) {
        let nameBytes = Array(name.utf8)
        let valueBytes = Array(value.utf8)
        var escaped: [UInt8] = []
        escaped.reserveCapacity(valueBytes.count)
        for byte in valueBytes {
            if byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "\n") { escaped.append(UInt8(ascii: "\\")) }
            escaped.append(byte)
        }
        let nl = nameBytes.count
        let vl = escaped.count
        let pend = bytes.count
        var buffer = bytes

        // Free space starts after the last newline before the trailing '#' run.
        var space = pend - 1
        while space >= 0 && buffer[space] == UInt8(ascii: "#") { space -= 1 }
        guard space >= 0, buffer[space] == UInt8(ascii: "\n") else { throw .malformed }
        space += 1

        var p = GrubEnvBlock.header.count
        var valueStart: Int?
        while p + nl + 1 < space {
            if matchesName(buffer, at: p, nameBytes) {
                p += nl + 1
                var len = 0
                while p + len < space && buffer[p + len] != UInt8(ascii: "\n") {
                    len += buffer[p + len] == UInt8(ascii: "\\") ? 2 : 1
                }
                guard p + len < space else { throw .malformed }
                guard pend - space >= vl - len else { throw .noSpace(name: name) }
                if vl < len {
                    // Shift the rest backward and pad the freed tail, as memmove + memset would.
                    let tail = Array(buffer[(p + len)..<pend])
                    buffer.replaceSubrange((p + vl)..<(p + vl + tail.count), with: tail)
                    for index in (space + len - vl)..<(space + len - vl + (len - vl)) where index < pend {
                        buffer[index] = UInt8(ascii: "#")
                    }
                } else if vl > len {
                    let moved = Array(buffer[(p + len)..<(p + len + (pend - (p + vl)))])
                    buffer.replaceSubrange((p + vl)..<pend, with: moved)
                }
                valueStart = p
                break
            }
            p = nextLine(in: buffer, p)
        }

        if valueStart == nil {
            guard pend - space >= nl + 1 + vl + 1 else { throw .noSpace(name: name) }
            buffer.replaceSubrange(space..<(space + nl), with: nameBytes)
            buffer[space + nl] = UInt8(ascii: "=")
            valueStart = space + nl + 1
            buffer[space + nl + 1 + vl] = UInt8(ascii: "\n")
        }
        if let start = valueStart {
            buffer.replaceSubrange(start..<(start + vl), with: escaped)
        }
        bytes = buffer
    }

    /// `grub-editenv unset NAME`: removes the first `NAME=` line; absent names are ignored.
    public mutating func unset(_ name: String) {
        let nameBytes = Array(name.utf8)
        let nl = nameBytes.count
        let pend = bytes.count
        var p = GrubEnvBlock.header.count
        while p + nl + 1 < pend {
            if matchesName(bytes, at: p, nameBytes) {
                var q = p + nl + 1
                while q < pend {
                    if bytes[q] == UInt8(ascii: "\\") {
                        q += 1
                    } else if bytes[q] == UInt8(ascii: "\n") {
                        break
                    }
                    q += 1
                }
                if q >= pend { return }
                q += 1
                let removed = q - p
                let tail = Array(bytes[q..<pend])
                bytes.replaceSubrange(p..<(p + tail.count), with: tail)
                for index in (pend - removed)..<pend { bytes[index] = UInt8(ascii: "#") }
                return
            }
            p = nextLine(p)
        }
    }

    /// Applies `NAME=VALUE` arguments in order, all or nothing.
    public mutating func apply(assignments: [String]) throws(GrubEnvError) {
        var copy = self
        for assignment in assignments {
            let utf8 = Array(assignment.utf8)
            guard let equals = utf8.firstIndex(of: UInt8(ascii: "=")) else { throw .invalidAssignment(assignment) }
            try copy.set(String(decoding: utf8[..<equals], as: UTF8.self), String(decoding: utf8[(equals + 1)...], as: UTF8.self))
        }
        self = copy
    }

    private func nextLine(_ p: Int) -> Int { nextLine(in: bytes, p) }

    private func nextLine(in buffer: [UInt8], _ start: Int) -> Int {
        var p = start
        while p < buffer.count {
            if buffer[p] == UInt8(ascii: "\\") {
                p += 1
            } else if buffer[p] == UInt8(ascii: "\n") {
                break
            }
            p += 1
        }
        return p + 1
    }

    private func matchesName(_ buffer: [UInt8], at p: Int, _ name: [UInt8]) -> Bool {
        guard p + name.count < buffer.count else { return false }
        var index = 0
        while index < name.count {
            if buffer[p + index] != name[index] { return false }
            index += 1
        }
        return buffer[p + name.count] == UInt8(ascii: "=")
    }
}

extension GrubEnvError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .wrongSize(let size): return "size is " + String(size) + " bytes, a GRUB environment block has " + String(GrubEnvBlock.size)
        case .badHeader: return "missing the '# GRUB Environment Block' header"
        case .malformed: return "the variables area is malformed"
        case .noSpace(let name): return "environment block too small for " + name
        case .invalidAssignment(let text): return "invalid parameter '" + text + "' (expected NAME=VALUE)"
        }
    }
}
