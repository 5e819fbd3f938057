package import Crypto
import Foundation
import KmodguardSystem

/// The publisher's Ed25519 secret key (`kmodguard keygen`): `NAME.key`, mode 0600, one line
/// `kmodguard-ed25519-secret KEYID BASE64-SEED`. Only `publish` reads it.
package struct SigningKey {
    package static let tag = "kmodguard-ed25519-secret"

    package let key: Curve25519.Signing.PrivateKey

    package init(_ key: Curve25519.Signing.PrivateKey = Curve25519.Signing.PrivateKey()) { self.key = key }

    package var publicKey: TrustedKey { TrustedKey(key.publicKey) }

    package var fileText: String {
        "# kmodguard database signing key: keep it secret; give " + publicKey.id + ".pub to the machines\n"
            + Self.tag + " " + publicKey.id + " " + key.rawRepresentation.base64EncodedString() + "\n"
    }

    package static func load(_ path: String) throws(DatabaseError) -> SigningKey {
        let bytes: [UInt8]
        switch Files.read(path, limit: 64 * 1024) {
        case .success(let read): bytes = read
        case .failure(let error): throw .keys(path: path, reason: error.message)
        }
        let fields = try KeyFileLine.fields(bytes, tag: tag, path: path)
        guard fields.payload.count == 32, let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: fields.payload) else {
            throw .keys(path: path, reason: "the secret key is not 32 bytes of base64")
        }
        let signing = SigningKey(key)
        guard signing.publicKey.id == fields.keyID else {
            throw .keys(path: path, reason: "key id " + fields.keyID + " does not match the key (" + signing.publicKey.id + ")")
        }
        return signing
    }

    package func sign(_ message: [UInt8]) throws(DatabaseError) -> IndexSignature {
        do {
            return IndexSignature(keyID: publicKey.id, signature: Array(try key.signature(for: message)))
        } catch {
            throw .keys(path: publicKey.id, reason: "signing failed: " + String(describing: error))
        }
    }
}
