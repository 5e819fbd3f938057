import KmodguardCore

/// The mount a path lives on, from /proc/self/mountinfo.
public struct MountInfo: Equatable, Sendable {
    public let mountPoint: String
    public let fsType: String
    public let source: String

    public init(mountPoint: String, fsType: String, source: String) {
        self.mountPoint = mountPoint
        self.fsType = fsType
        self.source = source
    }

    /// The longest mount point that contains `path` (already resolved, absolute).
    public static func containing(_ path: String, mountinfo: [UInt8]) -> MountInfo? {
        var best: MountInfo?
        for line in ShellAssignmentParser.splitLines(mountinfo) {
            let fields = line.split(separator: UInt8(ascii: " ")).map { String(decoding: $0, as: UTF8.self) }
            // id parent major:minor root mountpoint options [optional…] - fstype source superoptions
            guard fields.count >= 10, let separator = fields.firstIndex(of: "-"), separator + 2 < fields.count else { continue }
            let mountPoint = unescape(fields[4])
            let inside = mountPoint == "/" || path == mountPoint || path.hasPrefix(mountPoint + "/")
            guard inside, mountPoint.utf8.count >= (best?.mountPoint.utf8.count ?? 0) else { continue }
            best = MountInfo(mountPoint: mountPoint, fsType: fields[separator + 1], source: unescape(fields[separator + 2]))
        }
        return best
    }

    /// mountinfo escapes space, tab, newline and backslash as octal `\040` etc.
    static func unescape(_ text: String) -> String {
        var bytes: [UInt8] = []
        let input = Array(text.utf8)
        var index = 0
        while index < input.count {
            if input[index] == UInt8(ascii: "\\"), index + 3 < input.count,
               let value = parseOctal(input[(index + 1)...(index + 3)]) {
                bytes.append(value)
                index += 4
            } else {
                bytes.append(input[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func parseOctal(_ digits: ArraySlice<UInt8>) -> UInt8? {
        var value = 0
        for digit in digits {
            guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "7") else { return nil }
            value = value * 8 + Int(digit - UInt8(ascii: "0"))
        }
        return value <= 255 ? UInt8(value) : nil
    }
}
