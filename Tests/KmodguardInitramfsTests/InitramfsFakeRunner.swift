import Foundation
@testable import KmodguardInitramfs
import KmodguardSystem

/// A `ProcessRunning` that plays generator and lister: the builder writes `image` to its output
/// argument (and `output` to the log), the lister prints `listing`. Hooks see each call while it
/// happens, so tests can check what the files looked like at that moment.
final class InitramfsFakeRunner: ProcessRunning, @unchecked Sendable {
    var image: [UInt8] = Array("NEW IMAGE\n".utf8)
    var builderStatus: Int32 = 0
    var builderTimesOut = false
    /// Write the image even when failing (a generator killed half-way).
    var writePartialImageOnFailure = true
    var writesImage = true
    var output = "mkinitramfs: building\nW: possible missing firmware\nfinal line of the generator\n"
    var listing = ""
    var listerStatus: Int32 = 0
    var otherStatus: Int32 = 0
    var beforeBuild: (ExternalCommand) -> Void = { _ in }
    var beforeList: (ExternalCommand) -> Void = { _ in }

    private let lock = NSLock()
    private var recorded: [ExternalCommand] = []
    var commands: [ExternalCommand] { lock.withLock { recorded } }

    let builderNames: Set<String> = ["mkinitramfs", "dracut"]
    let listerNames: Set<String> = ["lsinitramfs", "lsinitrd"]

    func run(_ command: ExternalCommand) throws(CommandLaunchError) -> CommandResult {
        lock.withLock { recorded.append(command) }
        let program = (command.executable == "/usr/sbin/chroot" ? command.arguments.dropFirst().first : command.executable) ?? ""
        let name = URL(fileURLWithPath: program).lastPathComponent
        if builderNames.contains(name) {
            beforeBuild(command)
            if let log = command.logFile { Self.append(output, to: log) }
            let failed = builderStatus != 0 || builderTimesOut
            if writesImage && (!failed || writePartialImageOnFailure), let target = outputPath(command) {
                let bytes = failed ? Array(image.prefix(3)) : image
                _ = FileManager.default.createFile(atPath: target, contents: Data(bytes))
            }
            return CommandResult(status: builderTimesOut ? 124 : builderStatus, output: "", timedOut: builderTimesOut, seconds: 1.5)
        }
        if listerNames.contains(name) {
            beforeList(command)
            return CommandResult(status: listerStatus, output: listing, timedOut: false, seconds: 0.2)
        }
        return CommandResult(status: otherStatus, output: "", timedOut: false, seconds: 0.1)
    }

    /// The file the builder writes: after `-o` (mkinitramfs) or `--force` (dracut), as the
    /// builder sees it (a chrooted one's paths are inside the chroot).
    func outputPath(_ command: ExternalCommand) -> String? {
        var arguments = command.arguments
        var prefix = ""
        if command.executable == "/usr/sbin/chroot", let root = arguments.first {
            prefix = root
            arguments = Array(arguments.dropFirst(2))
        }
        guard let flag = arguments.firstIndex(where: { $0 == "-o" || $0 == "--force" }), flag + 1 < arguments.count else { return nil }
        return prefix + arguments[flag + 1]
    }

    static func append(_ text: String, to path: String) {
        guard let handle = FileHandle(forWritingAtPath: path) else { return }
        _ = try? handle.seekToEnd()
        try? handle.write(contentsOf: Data(text.utf8))
        try? handle.close()
    }
}
