/// What the database delivered for one kernel, verified and ready for the builder/installer.
package enum DatabaseDriver: Equatable {
    /// Modules built by the publisher for exactly this kernel (SHA-256 and vermagic checked):
    /// module name → local `.ko` path in the cache. Install them; nothing to compile.
    case prebuilt([String: String], driver: String)
    /// The driver's source tree (with its dkms.conf or Kbuild Makefile), safely extracted: build it.
    case source(directory: String, driver: String)

    /// `name-version`.
    package var driver: String {
        switch self {
        case .prebuilt(_, let driver), .source(_, let driver): return driver
        }
    }
}
