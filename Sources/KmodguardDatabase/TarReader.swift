package import KmodguardSystem

/// Reads the members of an uncompressed tar file (ustar, GNU long names, pax `path`,
/// `linkpath` and `size`) without extracting anything; `SafeExtractor` decides what to do.
package struct TarReader {
    package struct FormatError: Error {
        package let offset: Int
        package let reason: String
    }

    private let file: OpenFile
    private let fileSize: Int
    private var offset = 0
    /// Long names and pax overrides waiting for the header they apply to.
    private var pendingPath: String?
    private var pendingLink: String?
    private var pendingSize: Int?

    /// Caps on metadata records, so a hostile header cannot make us allocate gigabytes.
    package static let maximumMetadata = 1 << 20

    package init(file: OpenFile, fileSize: Int) {
        self.file = file
        self.fileSize = fileSize
    }

    /// The next entry, or nil at the end of the archive.
    package mutating func next() throws(FormatError) -> TarEntry? {
        while true {
            guard offset + 512 <= fileSize else {
                if offset == fileSize { return nil }
                throw FormatError(offset: offset, reason: "truncated header")
            }
            let header = try read(at: offset, count: 512)
            if header.allSatisfy({ $0 == 0 }) { return nil }
            try verifyChecksum(header)
            let typeflag = header[156]
            var size = try Self.number(header[124..<136], offset: offset)
            if let pending = pendingSize, typeflag != UInt8(ascii: "x"), typeflag != UInt8(ascii: "g") { size = pending }
            guard size >= 0, offset + 512 + size <= fileSize else {
                throw FormatError(offset: offset, reason: "entry data runs past the end of the archive")
            }
            let dataOffset = offset + 512
            offset = dataOffset + (size + 511) / 512 * 512
            switch typeflag {
            case UInt8(ascii: "L"), UInt8(ascii: "K"):
                guard size <= Self.maximumMetadata else { throw FormatError(offset: dataOffset, reason: "long name record too large") }
                let value = Self.string(try read(at: dataOffset, count: size)[...])
                if typeflag == UInt8(ascii: "L") { pendingPath = value } else { pendingLink = value }
                continue
            case UInt8(ascii: "x"):
                guard size <= Self.maximumMetadata else { throw FormatError(offset: dataOffset, reason: "pax header too large") }
                try applyPax(try read(at: dataOffset, count: size), offset: dataOffset)
                continue
            case UInt8(ascii: "g"):
                continue
            default:
                break
            }
            var path = Self.string(header[0..<100])
            let magic = Array(header[257..<262])
            if magic == Array("ustar".utf8) {
                let prefix = Self.string(header[345..<500])
                if !prefix.isEmpty { path = prefix + "/" + path }
            }
            if let pending = pendingPath { path = pending }
            var link = Self.string(header[157..<257])
            if let pending = pendingLink { link = pending }
            pendingPath = nil
            pendingLink = nil
            pendingSize = nil
            let mode = UInt32(truncatingIfNeeded: (try? Self.number(header[100..<108], offset: offset)) ?? 0o644)
            let kind: TarEntry.Kind
            switch typeflag {
            case UInt8(ascii: "0"), 0, UInt8(ascii: "7"): kind = path.hasSuffix("/") ? .directory : .file
            case UInt8(ascii: "5"): kind = .directory
            case UInt8(ascii: "2"): kind = .symlink(target: link)
            case UInt8(ascii: "1"): kind = .hardlink(target: link)
            default: kind = .other(typeflag: typeflag)
            }
            let dataSize: Int
            if case .file = kind { dataSize = size } else { dataSize = 0 }
            return TarEntry(path: path, kind: kind, mode: mode, size: dataSize, dataOffset: dataOffset)
        }
    }

    package func read(at position: Int, count: Int) throws(FormatError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let got: Int
            do {
                got = try file.read(at: position + done, into: &buffer, index: done, count: count - done)
            } catch {
                throw FormatError(offset: position, reason: "read failed: " + error.message)
            }
            if got == 0 { throw FormatError(offset: position, reason: "unexpected end of file") }
            done += got
        }
        return buffer
    }

    private func verifyChecksum(_ header: [UInt8]) throws(FormatError) {
        let stored = try Self.number(header[148..<156], offset: offset)
        var unsigned = 0
        var signed = 0
        for (index, byte) in header.enumerated() {
            let value = (148..<156).contains(index) ? UInt8(ascii: " ") : byte
            unsigned += Int(value)
            signed += Int(Int8(bitPattern: value))
        }
        guard stored == unsigned || stored == signed else { throw FormatError(offset: offset, reason: "header checksum mismatch") }
    }

    /// pax records: `LENGTH key=value\n`.
    private mutating func applyPax(_ data: [UInt8], offset position: Int) throws(FormatError) {
        var index = 0
        while index < data.count {
            guard let space = data[index...].firstIndex(of: UInt8(ascii: " ")),
                  let length = Int(String(decoding: data[index..<space], as: UTF8.self)), length > 0, index + length <= data.count,
                  data[index + length - 1] == UInt8(ascii: "\n") else {
                throw FormatError(offset: position + index, reason: "malformed pax record")
            }
            let record = data[(space + 1)..<(index + length - 1)]
            if let equals = record.firstIndex(of: UInt8(ascii: "=")) {
                let key = String(decoding: record[..<equals], as: UTF8.self)
                let value = String(decoding: record[(equals + 1)...], as: UTF8.self)
                switch key {
                case "path": pendingPath = value
                case "linkpath": pendingLink = value
                case "size":
                    guard let size = Int(value), size >= 0 else { throw FormatError(offset: position + index, reason: "bad pax size") }
                    pendingSize = size
                default: break
                }
            }
            index += length
        }
    }

    /// An octal field, or GNU's base-256 form (high bit set).
    package static func number(_ field: ArraySlice<UInt8>, offset: Int) throws(FormatError) -> Int {
        if let first = field.first, first & 0x80 != 0 {
            var value = 0
            for (position, byte) in field.enumerated() {
                let digit = position == 0 ? Int(byte & 0x7F) : Int(byte)
                guard value <= (Int.max >> 8) else { throw FormatError(offset: offset, reason: "number too large") }
                value = value << 8 | digit
            }
            return value
        }
        var value = 0
        var seenDigit = false
        for byte in field {
            if byte == 0 || byte == UInt8(ascii: " ") {
                if seenDigit { break } else { continue }
            }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "7") else { throw FormatError(offset: offset, reason: "bad octal number") }
            guard value <= (Int.max >> 3) else { throw FormatError(offset: offset, reason: "number too large") }
            value = value * 8 + Int(byte - UInt8(ascii: "0"))
            seenDigit = true
        }
        return value
    }

    package static func string(_ field: ArraySlice<UInt8>) -> String {
        let end = field.firstIndex(of: 0) ?? field.endIndex
        return String(decoding: field[field.startIndex..<end], as: UTF8.self)
    }
}
