import Foundation
package import KmodguardCore
package import KmodguardSystem

/// A prebuilt module is only used if it was built for the target kernel: its vermagic (read
/// with libkmod's `modinfo`) must equal that of an in-tree module of the kernel when the tree is
/// installed, and must at least start with the kernel release otherwise.
package struct ModuleVermagic {
    package let root: SystemRoot
    package let runner: any ProcessRunning

    /// `modinfo -F vermagic path`, trimmed.
    package func read(_ path: String) throws(DatabaseError) -> String {
        let command = ExternalCommand(findExecutable("modinfo") ?? "/sbin/modinfo", ["-F", "vermagic", path])
        let result: CommandResult
        do {
            result = try runner.run(command)
        } catch {
            throw .tool(command: command.description, reason: error.reason)
        }
        let text = result.output.split(separator: "\n").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        guard result.succeeded, !text.isEmpty else {
            throw .tool(command: command.description, reason: "no vermagic: " + result.output.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return text
    }

    /// The vermagic the kernel expects: that of the first module in its `modules.dep`, or nil
    /// when `ROOT/lib/modules/K` has no module index.
    package func expected(for kernel: KernelRelease) -> String? {
        let directory = root.modules(kernel)
        guard case .success(let bytes) = Files.read(directory + "/modules.dep", limit: 64 * 1024 * 1024),
              let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        let relative = String(decoding: bytes[..<colon], as: UTF8.self)
        let path = relative.hasPrefix("/") ? root.path(relative) : directory + "/" + relative
        return try? read(path)
    }

    /// Throws `.vermagic` unless the module at `path` fits `kernel`.
    package func verify(_ path: String, module: String, kernel: KernelRelease, url: String) throws(DatabaseError) {
        let found = try read(path)
        if let expected = expected(for: kernel) {
            guard found == expected else { throw .vermagic(url: url, module: module, found: found, expected: expected) }
        } else {
            guard found.split(separator: " ").first.map(String.init) == kernel.string else {
                throw .vermagic(url: url, module: module, found: found, expected: kernel.string + " …")
            }
        }
    }
}
