import Foundation
package import KmodguardSystem

/// gzip through the process seam (no zlib binding in this package): decompression is capped in
/// size and time, so a compression bomb fails the archive check instead of filling the disk.
package enum Gzip {
    package static var executable: String { findExecutable("gzip") ?? "/bin/gzip" }

    /// Whether the file starts with gzip's magic bytes.
    package static func isCompressed(_ path: String) -> Bool {
        guard let file = try? OpenFile.open(path, .readOnly) else { return false }
        defer { file.close() }
        var magic: [UInt8] = [0, 0]
        let count = (try? file.read(into: &magic)) ?? -1
        return count == 2 && magic == [0x1F, 0x8B]
    }

    /// `gzip -dc input > output`, at most `limit` bytes of output.
    package static func decompress(_ input: String, to output: String, limit: Int, url: String,
                           runner: any ProcessRunning) throws(DatabaseError) {
        let statusFile = output + ".status"
        defer { FileNames.removeIgnoringErrors(statusFile) }
        // head stops after limit+1 bytes; gzip's own status goes to a file (sh has no pipefail).
        var command = ExternalCommand("/bin/sh", ["-c", #"{ "$1" -dc -- "$2"; echo $? > "$5"; } | head -c "$4" > "$3""#, "sh",
                                                  executable, input, output, String(limit + 1), statusFile])
        command.timeoutSeconds = 600
        let result: CommandResult
        do {
            result = try runner.run(command)
        } catch {
            throw .tool(command: command.description, reason: error.reason)
        }
        if case .success(let info) = Files.status(output), info.size > limit {
            throw .archiveLimit(url: url, reason: "decompresses to more than " + String(limit) + " bytes")
        }
        var gzipStatus = "?"
        if case .success(let bytes) = Files.read(statusFile, limit: 64) {
            gzipStatus = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard result.succeeded, gzipStatus == "0" else {
            let output = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
            throw .archiveCorrupt(url: url, reason: "gzip -d failed" + (output.isEmpty ? "" : ": " + output))
        }
    }

    /// `gzip -n -9` (no name, no time stamp: reproducible output), `input` → `input.gz`.
    package static func compress(_ input: String, runner: any ProcessRunning) throws(DatabaseError) -> String {
        let command = ExternalCommand(executable, ["-n", "-9", "-f", "-k", "--", input])
        let result: CommandResult
        do {
            result = try runner.run(command)
        } catch {
            throw .tool(command: command.description, reason: error.reason)
        }
        guard result.succeeded else { throw .tool(command: command.description, reason: result.output) }
        return input + ".gz"
    }
}
