import Foundation
package import KmodguardCore
import KmodguardSystem

/// The generator a root uses, with the programs that build and list its images.
package struct InitramfsGenerator: Equatable, Sendable, CustomStringConvertible {
    /// Names the generator instead of detecting it: `dracut` or `initramfs-tools`.
    package static let kindVariable = "KMODGUARD_INITRAMFS_GENERATOR"
    /// A dracut to run instead of the root's, on the host (tests use an extracted dracut, see
    /// scripts/lib/dracut.sh); `lsinitrd` next to it is used for listing when it exists.
    package static let dracutVariable = "KMODGUARD_DRACUT"

    package var kind: InitramfsGeneratorKind
    package var builder: InitramfsTool
    package var lister: InitramfsTool

    package var description: String { kind.rawValue + " (" + builder.description + ", " + lister.description + ")" }

    /// The generator of `root`: `override`, else `KMODGUARD_INITRAMFS_GENERATOR`, else the one
    /// installed there (`mkinitramfs` → initramfs-tools, `dracut` → dracut; both → initramfs-tools
    /// on Debian, where the packages conflict and a stray dracut binary is not what update-initramfs
    /// hooks run, dracut elsewhere). A root other than `/` runs its own programs under chroot.
    package static func detect(
        root: SystemRoot,
        override: InitramfsGeneratorKind? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(InitramfsFailure) -> InitramfsGenerator {
        var requested = override
        if requested == nil, let name = environment[kindVariable], !name.isEmpty {
            guard let kind = InitramfsGeneratorKind(name: name) else {
                throw .unknownGenerator(name: name, variable: kindVariable)
            }
            requested = kind
        }
        let dracutOverride = environment[dracutVariable].flatMap { $0.isEmpty ? nil : $0 }
        if let dracutOverride, requested == .dracut || requested == nil,
           !FileAccess.isExecutable(dracutOverride) {
            throw .toolMissing(tool: dracutOverride, package: "dracut (set by " + dracutVariable + ")", root: "/")
        }
        let chroot = root.isHost ? nil : root.prefix

        func builder(_ kind: InitramfsGeneratorKind) -> InitramfsTool? {
            if kind == .dracut, let dracutOverride { return InitramfsTool(dracutOverride) }
            return findExecutable(kind.builderName, root: root.prefix).map { InitramfsTool($0, chroot: chroot) }
        }

        let kind: InitramfsGeneratorKind
        if let requested {
            kind = requested
        } else {
            let installed = InitramfsGeneratorKind.allCases.filter { builder($0) != nil }
            if installed.count == 1, let only = installed.first {
                kind = only
            } else if installed.isEmpty {
                throw .generatorMissing(requested: nil, root: root.path("/"))
            } else {
                kind = Files.exists(root.path("/etc/debian_version")) ? .initramfsTools : .dracut
            }
        }
        guard let build = builder(kind) else { throw .generatorMissing(requested: kind, root: root.path("/")) }
        guard let list = lister(kind, dracutOverride: dracutOverride, root: root, chroot: chroot) else {
            throw .toolMissing(tool: kind.listerName, package: kind.package, root: root.path("/"))
        }
        return InitramfsGenerator(kind: kind, builder: build, lister: list)
    }

    /// The lister: `lsinitrd` beside an overriding dracut, else the host's (it reads any image
    /// file, so no chroot is needed), else the root's.
    private static func lister(
        _ kind: InitramfsGeneratorKind, dracutOverride: String?, root: SystemRoot, chroot: String?
    ) -> InitramfsTool? {
        if kind == .dracut, let dracutOverride {
            let sibling = parentDirectory(dracutOverride) + "/" + kind.listerName
            if FileAccess.isExecutable(sibling) { return InitramfsTool(sibling) }
        }
        if let host = findExecutable(kind.listerName) { return InitramfsTool(host) }
        return findExecutable(kind.listerName, root: root.prefix).map { InitramfsTool($0, chroot: chroot) }
    }
}
