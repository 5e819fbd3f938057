/// One member of a tar archive, after GNU long-name and pax headers have been applied.
struct TarEntry: Equatable {
    enum Kind: Equatable {
        case file
        case directory
        case symlink(target: String)
        case hardlink(target: String)
        /// Devices, FIFOs, sparse files, anything else: never extracted.
        case other(typeflag: UInt8)
    }

    var path: String
    var kind: Kind
    var mode: UInt32
    var size: Int
    /// Where the data starts in the uncompressed archive (reader only).
    var dataOffset: Int = 0
    /// The bytes of a regular file (writer only).
    var data: [UInt8] = []

    init(path: String, kind: Kind, mode: UInt32 = 0o644, data: [UInt8] = []) {
        self.path = path
        self.kind = kind
        self.mode = mode
        self.size = data.count
        self.data = data
    }

    init(path: String, kind: Kind, mode: UInt32, size: Int, dataOffset: Int) {
        self.path = path
        self.kind = kind
        self.mode = mode
        self.size = size
        self.dataOffset = dataOffset
    }
}
