import Foundation
import KmodguardCore
@testable import KmodguardDatabase
import KmodguardTestSupport
import Testing

/// Keys, signatures and their file formats; interoperability with OpenSSL's Ed25519.
@Suite struct DatabaseSignatureTests {
    @Test func keygenWritesAPairAndNeverOverwrites() throws {
        let directory = DatabaseTestSupport.temporaryDirectory("keys")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let paths = try KeyPairFiles.create(directory: directory + "/new", name: "fleet")
        #expect(paths.secret == directory + "/new/fleet.key")
        let mode = try FileManager.default.attributesOfItem(atPath: paths.secret)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let secret = try SigningKey.load(paths.secret)
        let trusted = try TrustedKey.parse(Array(try Data(contentsOf: URL(fileURLWithPath: paths.public))), path: paths.public)
        #expect(trusted == secret.publicKey && trusted.id == paths.id)
        #expect(throws: DatabaseError.usage(paths.secret + " exists already; remove it or choose another --name")) {
            try KeyPairFiles.create(directory: directory + "/new", name: "fleet")
        }
    }

    @Test func everyTrustedKeyIsTried() throws {
        let message = Array("index".utf8)
        let first = SigningKey()
        let second = SigningKey()
        let ring = KeyRing(directory: "/k", keys: [first.publicKey, second.publicKey])
        try ring.verify(try second.sign(message), of: message, url: "u")
        #expect(throws: DatabaseError.badSignature(url: "u", keyID: second.publicKey.id)) {
            try ring.verify(try second.sign(message), of: Array("indeX".utf8), url: "u")
        }
        let stranger = SigningKey()
        #expect(throws: DatabaseError.unknownKey(url: "u", keyID: stranger.publicKey.id, keyDirectory: "/k",
                                                 trusted: [first.publicKey.id, second.publicKey.id])) {
            try ring.verify(try stranger.sign(message), of: message, url: "u")
        }
    }

    @Test func malformedFilesAreNamed() throws {
        let key = SigningKey()
        var text = key.publicKey.fileText
        text = text.replacingOccurrences(of: key.publicKey.id, with: "0000000000000000")
        #expect(throws: DatabaseError.keys(path: "/k/a.pub", reason: "key id 0000000000000000 does not match the key (" + key.publicKey.id + ")")) {
            try TrustedKey.parse(Array(text.utf8), path: "/k/a.pub")
        }
        #expect(throws: DatabaseError.self) { try TrustedKey.parse(Array("ssh-ed25519 AAAA\n".utf8), path: "/k/b.pub") }
        // The secret key file is not a public key, even though both hold 32 bytes.
        #expect(throws: DatabaseError.self) { try TrustedKey.parse(Array(key.fileText.utf8), path: "/k/c.pub") }
        #expect(throws: DatabaseError.signatureMalformed(url: "s", reason: "an Ed25519 signature has 64 bytes, this one 3")) {
            try IndexSignature.parse(Array("kmodguard-ed25519-signature abc AQID\n".utf8), url: "s")
        }
        // Comments and blank lines are fine.
        let signature = try key.sign([1, 2, 3])
        #expect(try IndexSignature.parse(Array(("# made by publish\n\n" + signature.fileText).utf8), url: "s") == signature)
    }

    @Test func malformedKeyInTheKeyDirectoryIsAnError() throws {
        let root = DatabaseTestSupport.temporaryDirectory("root")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/etc/kmodguard/keys", withIntermediateDirectories: true)
        try Data(SigningKey().publicKey.fileText.utf8).write(to: URL(fileURLWithPath: root + "/etc/kmodguard/keys/good.pub"))
        try Data("garbage\n".utf8).write(to: URL(fileURLWithPath: root + "/etc/kmodguard/keys/typo.pub"))
        try Data("ignored: not a .pub\n".utf8).write(to: URL(fileURLWithPath: root + "/etc/kmodguard/keys/README"))
        #expect { try KeyRing.load(root: SystemRoot(root)) } throws: {
            ($0 as? DatabaseError)?.description.hasPrefix(root + "/etc/kmodguard/keys/typo.pub: trusted keys check failed") == true
        }
    }

    /// Our signatures are plain RFC 8032 Ed25519: OpenSSL verifies them with the raw public key.
    @Test func opensslVerifiesOurSignatures() throws {
        let directory = DatabaseTestSupport.temporaryDirectory("openssl")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let key = SigningKey()
        let message = Array("{\"schema\": 1}\n".utf8)
        let signature = try key.sign(message)
        // SubjectPublicKeyInfo for Ed25519: a fixed 12-byte prefix, then the raw key.
        let der = Data([0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00]) + key.key.publicKey.rawRepresentation
        let pem = "-----BEGIN PUBLIC KEY-----\n" + der.base64EncodedString() + "\n-----END PUBLIC KEY-----\n"
        try Data(pem.utf8).write(to: URL(fileURLWithPath: directory + "/key.pem"))
        try Data(message).write(to: URL(fileURLWithPath: directory + "/index.json"))
        try Data(signature.signature).write(to: URL(fileURLWithPath: directory + "/sig"))
        try DatabaseTestSupport.run("/usr/bin/openssl", ["pkeyutl", "-verify", "-pubin", "-inkey", directory + "/key.pem", "-rawin",
                                                          "-in", directory + "/index.json", "-sigfile", directory + "/sig"])
    }
}
