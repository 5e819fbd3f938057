import Foundation
package import KmodguardCompletion

/// index.json ⇄ `DriverIndex`. Decoding checks the schema version first (so a newer format is
/// reported as such, not as a confusing missing field) and then every field.
package enum IndexCodec {
    private struct SchemaProbe: Decodable { let schema: Int }

    package static func decode(_ bytes: [UInt8], url: String) throws(DatabaseError) -> DriverIndex {
        let data = Data(bytes)
        let decoder = JSONDecoder()
        guard let probe = try? decoder.decode(SchemaProbe.self, from: data) else {
            throw .index(url: url, reason: "not a JSON object with an integer \"schema\"")
        }
        guard probe.schema == DriverIndex.schemaVersion else {
            throw .index(url: url, reason: "schema " + String(probe.schema) + " is not supported (this kmodguard reads "
                         + String(DriverIndex.schemaVersion) + "); update kmodguard")
        }
        let index: DriverIndex
        do {
            index = try decoder.decode(DriverIndex.self, from: data)
        } catch {
            throw .index(url: url, reason: describe(error))
        }
        do {
            try index.validate()
        } catch {
            throw .index(url: url, reason: error.description)
        }
        return index
    }

    /// Pretty, sorted keys, trailing newline: stable bytes for the same content.
    package static func encode(_ index: DriverIndex) throws(DatabaseError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(index)) + [UInt8(ascii: "\n")]
        } catch {
            throw .usage("cannot encode the index: " + String(describing: error))
        }
    }

    /// A decoding error as `field.path: what`.
    package static func describe(_ error: any Error) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            let text = keys.map { $0.intValue.map { "[" + String($0) + "]" } ?? "." + $0.stringValue }.joined()
            return text.hasPrefix(".") ? String(text.dropFirst()) : (text.isEmpty ? "top level" : text)
        }
        switch error as? DecodingError {
        case .keyNotFound(let key, let context)?: return path(context.codingPath + [key]) + ": missing"
        case .typeMismatch(_, let context)?: return path(context.codingPath) + ": wrong type"
        case .valueNotFound(_, let context)?: return path(context.codingPath) + ": null"
        case .dataCorrupted(let context)?: return path(context.codingPath) + ": " + context.debugDescription
        default: return String(describing: error)
        }
    }
}
