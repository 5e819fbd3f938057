/// Why a signed index is still unusable: the JSON field and what is wrong with it.
public struct DriverIndexError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A path into the document, e.g. `drivers[0].source.sha256`.
    public let field: String
    public let reason: String

    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }

    public var description: String { field + ": " + reason }
}
