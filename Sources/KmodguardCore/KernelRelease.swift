/// A kernel release string as `uname -r` prints it (`6.1.0-56-cloud-amd64`), ordered the way a
/// person expects: numbers compare numerically (`6.1.0-9` < `6.1.0-10`), a release candidate
/// sorts before its release (`6.2.0-rc3` < `6.2.0`), and a suffix sorts after the plain
/// release (`6.1.0-9+deb12u1` > `6.1.0-9`).
public struct KernelRelease: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let string: String

    /// Accepts what can name a directory under `/lib/modules`: non-empty, at most 64 bytes, no
    /// `/`, no whitespace or control bytes, not `.` or `..`.
    public init?(_ string: String) {
        let bytes = Array(string.utf8)
        guard !bytes.isEmpty, bytes.count <= 64, string != ".", string != ".." else { return nil }
        for byte in bytes where byte <= 0x20 || byte == 0x7F || byte == UInt8(ascii: "/") {
            return nil
        }
        self.string = string
    }

    public var description: String { string }

    public static func < (lhs: KernelRelease, rhs: KernelRelease) -> Bool {
        compareVersions(Array(lhs.string.utf8), Array(rhs.string.utf8)) < 0
    }
}

/// Returns -1, 0 or 1. A dpkg-style comparison (alternating non-digit and digit runs, digit runs
/// numerically, `~` lowest) where `-rc` counts as `~rc`, the way kernel release candidates
/// are packaged.
func compareVersions(_ a: [UInt8], _ b: [UInt8]) -> Int {
    let left = normalizeReleaseCandidates(a)
    let right = normalizeReleaseCandidates(b)
    var i = 0
    var j = 0
    while i < left.count || j < right.count {
        // Non-digit run, character by character.
        while (i < left.count && !isDigit(left[i])) || (j < right.count && !isDigit(right[j])) {
            let l = i < left.count && !isDigit(left[i]) ? characterOrder(left[i]) : 0
            let r = j < right.count && !isDigit(right[j]) ? characterOrder(right[j]) : 0
            if l != r { return l < r ? -1 : 1 }
            if i < left.count && !isDigit(left[i]) { i += 1 }
            if j < right.count && !isDigit(right[j]) { j += 1 }
        }
        // Digit run, numerically: skip leading zeros, then longer wins, then lexical.
        while i < left.count && left[i] == UInt8(ascii: "0") { i += 1 }
        while j < right.count && right[j] == UInt8(ascii: "0") { j += 1 }
        let leftStart = i
        let rightStart = j
        while i < left.count && isDigit(left[i]) { i += 1 }
        while j < right.count && isDigit(right[j]) { j += 1 }
        let leftLength = i - leftStart
        let rightLength = j - rightStart
        if leftLength != rightLength { return leftLength < rightLength ? -1 : 1 }
        var k = 0
        while k < leftLength {
            let l = left[leftStart + k]
            let r = right[rightStart + k]
            if l != r { return l < r ? -1 : 1 }
            k += 1
        }
    }
    return 0
}

private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

private func isLetter(_ byte: UInt8) -> Bool {
    (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
}

/// dpkg's order: `~` before end of string, end before letters, letters before other bytes.
private func characterOrder(_ byte: UInt8) -> Int {
    if byte == UInt8(ascii: "~") { return -1 }
    if isLetter(byte) { return Int(byte) }
    return Int(byte) + 256
}

private func normalizeReleaseCandidates(_ bytes: [UInt8]) -> [UInt8] {
    var result = bytes
    var index = 0
    while index + 2 < result.count {
        if result[index] == UInt8(ascii: "-") && result[index + 1] == UInt8(ascii: "r")
            && result[index + 2] == UInt8(ascii: "c") {
            result[index] = UInt8(ascii: "~")
        }
        index += 1
    }
    return result
}
