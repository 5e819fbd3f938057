package import Crypto
import Foundation

/// An Ed25519 public key that may sign a driver database: one `NAME.pub` file in
/// `/etc/kmodguard/keys/`, one line `kmodguard-ed25519-public KEYID BASE64`.
package struct TrustedKey: Equatable {
    package static let tag = "kmodguard-ed25519-public"

    package let key: Curve25519.Signing.PublicKey
    /// The first 8 bytes of the raw key's SHA-256 in hex: names the key in signatures and messages.
    package let id: String
    /// The file it came from, for messages.
    package var path: String?

    package init(_ key: Curve25519.Signing.PublicKey, path: String? = nil) {
        self.key = key
        self.id = Self.keyID(key)
        self.path = path
    }

    package static func keyID(_ key: Curve25519.Signing.PublicKey) -> String {
        SHA256.hash(data: key.rawRepresentation).prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    package static func == (lhs: TrustedKey, rhs: TrustedKey) -> Bool { lhs.key.rawRepresentation == rhs.key.rawRepresentation }

    /// The file's text.
    package var fileText: String { Self.tag + " " + id + " " + key.rawRepresentation.base64EncodedString() + "\n" }

    /// Parses a `.pub` file; `#` lines and blank lines are ignored.
    package static func parse(_ bytes: [UInt8], path: String) throws(DatabaseError) -> TrustedKey {
        let fields = try KeyFileLine.fields(bytes, tag: tag, path: path)
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: fields.payload), fields.payload.count == 32 else {
            throw .keys(path: path, reason: "the key is not 32 bytes of base64")
        }
        let trusted = TrustedKey(key, path: path)
        guard trusted.id == fields.keyID else {
            throw .keys(path: path, reason: "key id " + fields.keyID + " does not match the key (" + trusted.id + ")")
        }
        return trusted
    }

    /// Whether `signature` is this key's signature of `message`.
    package func verifies(_ signature: [UInt8], of message: [UInt8]) -> Bool {
        key.isValidSignature(signature, for: message)
    }
}
