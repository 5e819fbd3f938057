import KmodguardCompletion
package import KmodguardCore

/// Why the driver database delivered no driver: the URL or path, the check that failed and the
/// details. Thrown before anything is installed; partial downloads and extractions are removed.
package enum DatabaseError: Error, Equatable, CustomStringConvertible {
    case transfer(url: String, TransferFailure, attempts: Int)
    /// No `index.json.sig` next to the index: an unsigned index is never read.
    case signatureMissing(url: String, TransferFailure)
    case signatureMalformed(url: String, reason: String)
    /// Signed with a key that is not among the trusted ones.
    case unknownKey(url: String, keyID: String, keyDirectory: String, trusted: [String])
    /// The signature does not verify: the index or the signature was altered.
    case badSignature(url: String, keyID: String)
    /// The trusted keys themselves are unusable (none, unreadable, malformed).
    case keys(path: String, reason: String)
    /// Signed, but not a usable index (JSON, schema, a field).
    case index(url: String, reason: String)
    /// Older than an index accepted before (or the same generation with different content).
    case replay(url: String, generation: Int, accepted: Int, stateFile: String)
    case noDriver(url: String, kernel: String, modules: [String], offered: [String])
    case size(url: String, expected: Int, actual: Int)
    case checksum(url: String, expected: String, actual: String)
    /// An archive entry that would write outside the tree or create something unsafe.
    case unsafeArchive(url: String, entry: String, reason: String)
    case archiveLimit(url: String, reason: String)
    case archiveCorrupt(url: String, reason: String)
    case vermagic(url: String, module: String, found: String, expected: String)
    case state(path: String, reason: String)
    case system(SystemError)
    case tool(command: String, reason: String)
    /// `publish` and `keygen` usage problems (a bad option value, a clash with an existing file).
    case usage(String)

    /// A download that failed in a way that may pass by itself (5xx, timeout, refused or reset
    /// connection, DNS): nothing was learnt about the driver, so `complete` tries again on its
    /// next run. Everything else (a signature, a digest, an archive, a 404, TLS) is a verdict
    /// that stands until the database, the kernels or the configuration change.
    package var isTransient: Bool {
        if case .transfer(_, let failure, _) = self { return failure.isTransient }
        return false
    }

    /// The check that failed, one word, as status and the tests name it.
    package var check: String {
        switch self {
        case .transfer: return "download"
        case .signatureMissing, .signatureMalformed, .unknownKey, .badSignature: return "signature"
        case .keys: return "trusted keys"
        case .index: return "index"
        case .replay: return "replay"
        case .noDriver: return "driver selection"
        case .size: return "size"
        case .checksum: return "sha256"
        case .unsafeArchive, .archiveLimit, .archiveCorrupt: return "archive"
        case .vermagic: return "vermagic"
        case .state: return "state"
        case .system: return "file system"
        case .tool: return "tool"
        case .usage: return "usage"
        }
    }

    package var description: String {
        switch self {
        case .transfer(let url, let failure, let attempts):
            return url + ": download failed: " + failure.description
                + (attempts > 1 ? " (gave up after " + String(attempts) + " attempts)" : "")
        case .signatureMissing(let url, let failure):
            return url + ": signature check failed: the signature is missing (" + failure.description
                + "); an unsigned index is never used"
        case .signatureMalformed(let url, let reason):
            return url + ": signature check failed: not a kmodguard signature (" + reason + ")"
        case .unknownKey(let url, let keyID, let directory, let trusted):
            return url + ": signature check failed: signed with key " + keyID + ", which is not trusted (keys in "
                + directory + ": " + (trusted.isEmpty ? "none" : trusted.joined(separator: ", ")) + ")"
        case .badSignature(let url, let keyID):
            return url + ": signature check failed: the signature does not verify with trusted key " + keyID
                + " (index or signature altered)"
        case .keys(let path, let reason):
            return path + ": trusted keys check failed: " + reason
        case .index(let url, let reason):
            return url + ": index check failed: " + reason
        case .replay(let url, let generation, let accepted, let stateFile):
            let problem = generation == accepted
                ? "generation " + String(generation) + " was accepted before with different content"
                : "generation " + String(generation) + " is older than generation " + String(accepted) + " accepted before"
            return url + ": replay check failed: " + problem + " (recorded in " + stateFile + "); refusing a replayed index"
        case .noDriver(let url, let kernel, let modules, let offered):
            return url + ": driver selection failed: no driver provides " + (modules.isEmpty ? "any module" : modules.joined(separator: ", "))
                + " for kernel " + kernel + " (offered: " + (offered.isEmpty ? "nothing" : offered.joined(separator: "; ")) + ")"
        case .size(let url, let expected, let actual):
            return url + ": size check failed: got " + String(actual) + " bytes, the signed index says " + String(expected)
        case .checksum(let url, let expected, let actual):
            return url + ": sha256 check failed: got " + actual + ", the signed index says " + expected
        case .unsafeArchive(let url, let entry, let reason):
            return url + ": archive check failed: entry '" + entry + "' " + reason + "; nothing extracted"
        case .archiveLimit(let url, let reason):
            return url + ": archive check failed: " + reason + "; nothing extracted"
        case .archiveCorrupt(let url, let reason):
            return url + ": archive check failed: not a readable tar.gz (" + reason + "); nothing extracted"
        case .vermagic(let url, let module, let found, let expected):
            return url + ": vermagic check failed: " + module + " is built for '" + found + "', the kernel needs '" + expected + "'"
        case .state(let path, let reason):
            return path + ": state check failed: " + reason
        case .system(let error):
            return error.description
        case .tool(let command, let reason):
            return command + ": " + reason
        case .usage(let message):
            return message
        }
    }
}
