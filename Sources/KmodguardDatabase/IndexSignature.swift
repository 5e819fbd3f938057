import Foundation

/// `index.json.sig`: the detached Ed25519 signature of the exact bytes of `index.json`, one line
/// `kmodguard-ed25519-signature KEYID BASE64`. The key id only picks the message; every trusted
/// key is tried.
package struct IndexSignature: Equatable {
    package static let tag = "kmodguard-ed25519-signature"

    package let keyID: String
    package let signature: [UInt8]

    package var fileText: String { Self.tag + " " + keyID + " " + Data(signature).base64EncodedString() + "\n" }

    package static func parse(_ bytes: [UInt8], url: String) throws(DatabaseError) -> IndexSignature {
        let fields: (keyID: String, payload: [UInt8])
        do {
            fields = try KeyFileLine.fields(bytes, tag: tag, path: url)
        } catch {
            if case .keys(_, let reason) = error { throw .signatureMalformed(url: url, reason: reason) }
            throw error
        }
        guard fields.payload.count == 64 else {
            throw .signatureMalformed(url: url, reason: "an Ed25519 signature has 64 bytes, this one " + String(fields.payload.count))
        }
        return IndexSignature(keyID: fields.keyID, signature: fields.payload)
    }
}
