import KmodguardSystem

/// The account builds run as. Vendor Makefiles are arbitrary code; run as root they could
/// write anywhere, so kmodguard (normally root) drops to `nobody:nogroup` for everything that
/// executes the source's code (patch, make, strip).
package struct BuildUser: Equatable, Sendable {
    package let uid: UInt32
    package let gid: UInt32

    /// Debian's `nobody` / `nogroup`.
    package static let nobody = BuildUser(uid: 65534, gid: 65534)

    /// `nobody` when running as root; nil otherwise (an unprivileged caller builds as itself,
    /// it cannot switch users anyway).
    package static var defaultForThisProcess: BuildUser? { ProcessIdentity.isRoot ? .nobody : nil }
}
