/// One member of a tar archive, after GNU long-name and pax headers have been applied.
package struct TarEntry: Equatable {
    package enum Kind: Equatable {
        case file
        case directory
        case symlink(target: String)
        case hardlink(target: String)
        /// Devices, FIFOs, sparse files, anything else: never extracted.
        case other(typeflag: UInt8)
    }

    package var path: String
    package var kind: Kind
    package var mode: UInt32
    package var size: Int
    /// Where the data starts in the uncompressed archive (reader only).
    package var dataOffset: Int = 0
    /// The bytes of a regular file (writer only).
    package var data: [UInt8] = []

    package init(path: String, kind: Kind, mode: UInt32 = 0o644, data: [UInt8] = []) {
        self.path = path
        self.kind = kind
        self.mode = mode
        self.size = data.count
        self.data = data
    }

    package init(path: String, kind: Kind, mode: UInt32, size: Int, dataOffset: Int) {
        self.path = path
        self.kind = kind
        self.mode = mode
        self.size = size
        self.dataOffset = dataOffset
    }
}
