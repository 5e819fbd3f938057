package import KmodguardCore
import KmodguardSystem

/// The keys a machine trusts to sign its driver database: every `*.pub` in
/// `ROOT/etc/kmodguard/keys/`. A malformed key file is an error rather than skipped, so a typo
/// cannot silently leave a machine trusting fewer keys than its administrator thinks.
package struct KeyRing {
    package let directory: String
    package let keys: [TrustedKey]

    package static func directory(root: SystemRoot) -> String { root.path("/etc/kmodguard/keys") }

    package init(directory: String, keys: [TrustedKey]) {
        self.directory = directory
        self.keys = keys
    }

    package static func load(root: SystemRoot) throws(DatabaseError) -> KeyRing {
        let directory = directory(root: root)
        let names: [String]
        switch Files.list(directory) {
        case .success(let listed): names = listed.filter { $0.hasSuffix(".pub") }.sorted()
        case .failure(let error):
            throw .keys(path: directory, reason: error.message + "; install the database's public key there (kmodguard keygen makes one)")
        }
        var keys: [TrustedKey] = []
        for name in names {
            let path = directory + "/" + name
            switch Files.read(path, limit: 64 * 1024) {
            case .success(let bytes): keys.append(try TrustedKey.parse(bytes, path: path))
            case .failure(let error): throw .keys(path: path, reason: error.message)
            }
        }
        guard !keys.isEmpty else {
            throw .keys(path: directory, reason: "no *.pub key files; install the database's public key there")
        }
        return KeyRing(directory: directory, keys: keys)
    }

    /// Succeeds when any trusted key verifies `signature` over `message`; the error tells an
    /// unknown signer from an altered index.
    package func verify(_ signature: IndexSignature, of message: [UInt8], url: String) throws(DatabaseError) {
        if keys.contains(where: { $0.verifies(signature.signature, of: message) }) { return }
        if keys.contains(where: { $0.id == signature.keyID }) {
            throw .badSignature(url: url, keyID: signature.keyID)
        }
        throw .unknownKey(url: url, keyID: signature.keyID, keyDirectory: directory, trusted: keys.map(\.id))
    }
}
