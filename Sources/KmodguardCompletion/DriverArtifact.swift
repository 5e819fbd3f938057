/// One file the database offers (a source tarball or a prebuilt `.ko`): where it is and what it
/// must hash to. The client refuses any byte that does not match `sha256` and `size`.
public struct DriverArtifact: Codable, Equatable, Hashable, Sendable {
    /// Absolute (`https://`, `http://`, `file://`) or relative to the index's URL.
    public var url: String
    /// Lowercase hex SHA-256 of the file.
    public var sha256: String
    /// Exact size in bytes; also the download cap.
    public var size: Int

    public init(url: String, sha256: String, size: Int) {
        self.url = url
        self.sha256 = sha256
        self.size = size
    }
}
