package import KmodguardCore
import KmodguardSystem

/// Whether an image directory has room for a rebuilt image: the generator writes the new image
/// next to the old one (so the swap is one rename), so for a moment both take space.
package struct InitramfsSpace {
    /// Not enough room, in bytes.
    package struct Shortage: Equatable, CustomStringConvertible {
        package let directory: String
        package let neededBytes: UInt64
        package let freeBytes: UInt64
        /// The image the estimate is based on, and its size.
        package let basis: String
        package let basisBytes: UInt64

        package var description: String {
            directory + " has " + String(freeBytes) + " bytes free (" + Self.mebibytes(freeBytes) + "), about "
                + String(neededBytes) + " bytes (" + Self.mebibytes(neededBytes) + ") are needed: the new image is built next to "
                + basis + " (" + String(basisBytes) + " bytes) before it replaces the old one"
        }

        package static func mebibytes(_ bytes: UInt64) -> String {
            let tenths = bytes * 10 / 1_048_576
            return String(tenths / 10) + "." + String(tenths % 10) + " MiB"
        }
    }

    package let image: String
    package let directory: String
    package let freeBytes: (String) -> Result<UInt64, SystemError>

    /// Bytes a rebuilt image needs next to the old one: the size of the image it replaces (or,
    /// for a first image, of the largest one there) plus 5% for what the rebuild adds.
    package static func needed(basisBytes: UInt64) -> UInt64 { basisBytes + basisBytes / 20 }

    /// The shortage, or nil when the image fits (or free space or a size to go by is unknown:
    /// then the generator's own error decides).
    package func shortage() -> Shortage? {
        guard let (basis, basisBytes) = sizeBasis(), basisBytes > 0,
              case .success(let free) = freeBytes(directory) else { return nil }
        let needed = Self.needed(basisBytes: basisBytes)
        guard free < needed else { return nil }
        return Shortage(directory: directory, neededBytes: needed, freeBytes: free, basis: basis, basisBytes: basisBytes)
    }

    /// The image replaced, else the largest initramfs image in the directory, with its size.
    package func sizeBasis() -> (String, UInt64)? {
        if case .success(let status) = Files.status(image) { return (image, UInt64(status.size)) }
        guard case .success(let names) = Files.list(directory) else { return nil }
        var largest: (String, UInt64)?
        for name in names.sorted() where Self.isImageName(name) {
            let path = directory + "/" + name
            if case .success(let status) = Files.status(path), UInt64(status.size) > largest?.1 ?? 0 {
                largest = (path, UInt64(status.size))
            }
        }
        return largest
    }

    /// `initrd.img-KVER` (Debian) or `initramfs-KVER.img` (Fedora's dracut), not a leftover.
    package static func isImageName(_ name: String) -> Bool {
        (name.hasPrefix("initrd.img-") || (name.hasPrefix("initramfs-") && name.hasSuffix(".img")))
            && !name.contains(InitramfsStagedImage.suffix)
    }
}
