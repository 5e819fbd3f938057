import Foundation

/// The one-line text format shared by key files and signatures: `TAG KEYID BASE64`, with `#`
/// comment lines and blank lines allowed around it.
package enum KeyFileLine {
    package static func fields(_ bytes: [UInt8], tag: String, path: String) throws(DatabaseError) -> (keyID: String, payload: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        guard lines.count == 1 else {
            throw .keys(path: path, reason: "expected one line '" + tag + " KEYID BASE64', found " + String(lines.count))
        }
        let words = lines[0].split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard words.count == 3, words[0] == tag else {
            throw .keys(path: path, reason: "expected '" + tag + " KEYID BASE64'")
        }
        guard let payload = Data(base64Encoded: words[2]) else { throw .keys(path: path, reason: "the key material is not base64") }
        return (words[1], Array(payload))
    }
}
