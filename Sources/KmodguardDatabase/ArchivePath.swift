/// A member path checked to stay inside the extraction directory: relative, no `..`, no empty
/// or control-character names; `.` components and a leading `./` are dropped.
package struct ArchivePath: Hashable {
    package let components: [String]

    package var string: String { components.joined(separator: "/") }

    /// Nil with the reason when the path is unsafe; `components` is empty for the tree root (`./`).
    package static func parse(_ raw: String, limit: Int) -> (path: ArchivePath?, problem: String?) {
        let bytes = Array(raw.utf8)
        if bytes.isEmpty { return (nil, "has an empty name") }
        if bytes.count > limit { return (nil, "has a name longer than " + String(limit) + " bytes") }
        if bytes.first == UInt8(ascii: "/") { return (nil, "is an absolute path") }
        if bytes.contains(where: { $0 < 0x20 || $0 == 0x7F }) { return (nil, "has control characters in its name") }
        var components: [String] = []
        for part in raw.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." { return (nil, "contains a '..' component") }
            if part.utf8.count > 255 { return (nil, "has a name component longer than 255 bytes") }
            components.append(String(part))
        }
        return (ArchivePath(components: components), nil)
    }

    /// The parent directory's components.
    package var parent: [String] { Array(components.dropLast()) }
}
