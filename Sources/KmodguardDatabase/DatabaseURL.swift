import Foundation

/// URLs of a database: `DATABASE_URL` names the tree (or its `index.json`); the signature sits
/// next to the index; artifact URLs in the index may be relative to it.
package enum DatabaseURL {
    package static let schemes: Set<String> = ["https", "http", "file"]

    /// `https://host/db` and `https://host/db/` → `https://host/db/index.json`; a URL already
    /// ending in `.json` is the index itself.
    package static func index(_ databaseURL: String) -> String {
        if databaseURL.hasSuffix(".json") { return databaseURL }
        var base = databaseURL
        while base.hasSuffix("/") { base.removeLast() }
        return base + "/index.json"
    }

    package static func signature(ofIndex indexURL: String) -> String { indexURL + ".sig" }

    /// `reference` resolved against the index URL; nil unless the result is http(s) or file.
    package static func resolve(_ reference: String, relativeTo indexURL: String) -> String? {
        guard let base = URL(string: indexURL), let resolved = URL(string: reference, relativeTo: base)?.absoluteURL,
              let scheme = resolved.scheme?.lowercased(), schemes.contains(scheme) else { return nil }
        return resolved.absoluteString
    }
}
