/// Caps on what one source tarball may unpack to: a hostile or broken archive fails the
/// archive check instead of filling the disk.
package struct ExtractionLimits: Sendable {
    /// Sum of regular file sizes (and the decompressed archive, with its headers, may be at
    /// most this plus 25%).
    package var totalBytes = 1 << 30
    /// Entries of any kind.
    package var entries = 50_000
    package var pathBytes = 4096

    package init() {}
}
