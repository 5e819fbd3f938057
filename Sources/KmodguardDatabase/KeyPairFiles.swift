import KmodguardSystem

/// The key pair files `kmodguard keygen` writes: DIR/NAME.key (secret, 0600) and DIR/NAME.pub.
package enum KeyPairFiles {
    /// Creates the pair; refuses to replace an existing file.
    package static func create(directory: String, name: String) throws(DatabaseError) -> (secret: String, public: String, id: String) {
        guard !name.isEmpty, !name.contains("/"), !name.hasPrefix(".") else { throw .usage("'" + name + "' cannot name a key file") }
        let secret = directory + "/" + name + ".key"
        let publicPath = directory + "/" + name + ".pub"
        for path in [secret, publicPath] where Files.exists(path) {
            throw .usage(path + " exists already; remove it or choose another --name")
        }
        if let error = Files.makeDirectories(directory) { throw .system(error) }
        let key = SigningKey()
        if let error = Files.replaceAtomically(secret, with: Array(key.fileText.utf8), mode: 0o600) { throw .system(error) }
        if let error = Files.replaceAtomically(publicPath, with: Array(key.publicKey.fileText.utf8), mode: 0o644) { throw .system(error) }
        return (secret, publicPath, key.publicKey.id)
    }
}
