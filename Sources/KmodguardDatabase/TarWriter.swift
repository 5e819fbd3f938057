/// Writes ustar archives, deterministically (owner root, mtime 0, entries in the given order) so
/// that publishing the same tree twice gives the same tarball and SHA-256. Names longer than
/// ustar allows get a GNU long-name record, which GNU tar, bsdtar and `TarReader` read.
package struct TarWriter {
    package private(set) var bytes: [UInt8] = []

    package init() {}

    package mutating func append(_ entry: TarEntry) {
        var name = entry.path
        if case .directory = entry.kind, !name.hasSuffix("/") { name += "/" }
        var link = ""
        var typeflag = UInt8(ascii: "0")
        var size = entry.data.count
        switch entry.kind {
        case .file: break
        case .directory: typeflag = UInt8(ascii: "5"); size = 0
        case .symlink(let target): typeflag = UInt8(ascii: "2"); link = target; size = 0
        case .hardlink(let target): typeflag = UInt8(ascii: "1"); link = target; size = 0
        case .other(let flag): typeflag = flag; size = 0
        }
        if link.utf8.count > 100 { appendLongRecord(Array(link.utf8), typeflag: UInt8(ascii: "K")) }
        if name.utf8.count > 100 { appendLongRecord(Array(name.utf8), typeflag: UInt8(ascii: "L")) }
        appendHeader(name: Array(name.utf8.prefix(100)), mode: entry.mode, size: size, typeflag: typeflag, link: Array(link.utf8.prefix(100)))
        if size > 0 { appendPadded(entry.data) }
    }

    /// The archive with its two zero end blocks.
    package mutating func finish() -> [UInt8] {
        bytes += [UInt8](repeating: 0, count: 1024)
        return bytes
    }

    private mutating func appendLongRecord(_ value: [UInt8], typeflag: UInt8) {
        let data = value + [0]
        appendHeader(name: Array("././@LongLink".utf8), mode: 0, size: data.count, typeflag: typeflag, link: [])
        appendPadded(data)
    }

    private mutating func appendPadded(_ data: [UInt8]) {
        bytes += data
        let remainder = data.count % 512
        if remainder != 0 { bytes += [UInt8](repeating: 0, count: 512 - remainder) }
    }

    private mutating func appendHeader(name: [UInt8], mode: UInt32, size: Int, typeflag: UInt8, link: [UInt8]) {
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ value: [UInt8], at offset: Int, length: Int) {
            for (index, byte) in value.prefix(length).enumerated() { header[offset + index] = byte }
        }
        func octal(_ value: Int, length: Int) -> [UInt8] {
            let digits = Array(String(value, radix: 8).utf8)
            return [UInt8](repeating: UInt8(ascii: "0"), count: max(0, length - 1 - digits.count)) + digits + [0]
        }
        put(name, at: 0, length: 100)
        put(octal(Int(mode & 0o7777), length: 8), at: 100, length: 8)
        put(octal(0, length: 8), at: 108, length: 8)
        put(octal(0, length: 8), at: 116, length: 8)
        put(octal(size, length: 12), at: 124, length: 12)
        put(octal(0, length: 12), at: 136, length: 12)
        put([UInt8](repeating: UInt8(ascii: " "), count: 8), at: 148, length: 8)
        header[156] = typeflag
        put(link, at: 157, length: 100)
        put(Array("ustar".utf8) + [0], at: 257, length: 6)
        put(Array("00".utf8), at: 263, length: 2)
        put(Array("root".utf8), at: 265, length: 32)
        put(Array("root".utf8), at: 297, length: 32)
        let checksum = header.reduce(0) { $0 + Int($1) }
        put(octal(checksum, length: 7) + [UInt8(ascii: " ")], at: 148, length: 8)
        bytes += header
    }
}
