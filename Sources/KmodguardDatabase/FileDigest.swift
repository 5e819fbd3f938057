import Crypto
import Foundation
import Glibc
import KmodguardSystem

/// SHA-256 in lowercase hex, of bytes or of a file read in chunks (tarballs can be large).
package enum FileDigest {
    package static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { String(format: "%02x", $0) }.joined()
    }

    package static func sha256(_ bytes: [UInt8]) -> String { hex(SHA256.hash(data: bytes)) }

    /// The digest and size of the file at `path`.
    package static func sha256(file path: String) throws(DatabaseError) -> (digest: String, size: Int) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard descriptor >= 0 else { throw .system(Files.lastError("open", path)) }
        defer { close(descriptor) }
        var hasher = SHA256()
        var size = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .system(Files.lastError("read", path))
            }
            if count == 0 { break }
            buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            size += count
        }
        return (hex(hasher.finalize()), size)
    }
}
