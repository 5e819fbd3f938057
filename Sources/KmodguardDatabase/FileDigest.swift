import Crypto
import Foundation
import KmodguardSystem

/// SHA-256 in lowercase hex, of bytes or of a file read in chunks (tarballs can be large).
package enum FileDigest {
    package static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { String(format: "%02x", $0) }.joined()
    }

    package static func sha256(_ bytes: [UInt8]) -> String { hex(SHA256.hash(data: bytes)) }

    /// The digest and size of the file at `path`.
    package static func sha256(file path: String) throws(DatabaseError) -> (digest: String, size: Int) {
        let file: OpenFile
        do {
            file = try OpenFile.open(path, .readOnly, options: .noFollow)
        } catch {
            throw .system(error)
        }
        defer { file.close() }
        var hasher = SHA256()
        var size = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count: Int
            do {
                count = try file.read(into: &buffer)
            } catch {
                throw .system(error)
            }
            if count == 0 { break }
            buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            size += count
        }
        return (hex(hasher.finalize()), size)
    }
}
