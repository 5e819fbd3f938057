import Foundation

/// An external program to run: the one seam through which the CLI starts processes, so the
/// orchestration can be tested with a fake runner.
package struct ExternalCommand: Sendable, CustomStringConvertible {
    package var executable: String
    package var arguments: [String] = []
    /// Added to (or replacing) the inherited environment.
    package var environment: [String: String] = [:]
    package var workingDirectory: String?
    /// Killed (the whole process group, via coreutils `timeout`) after this many seconds.
    package var timeoutSeconds: Int?
    /// Run as this uid/gid (via util-linux `setpriv`, groups cleared, no new privileges).
    package var user: (uid: UInt32, gid: UInt32)?
    /// Append stdout and stderr here instead of capturing them.
    package var logFile: String?

    package init(_ executable: String, _ arguments: [String] = []) {
        self.executable = executable
        self.arguments = arguments
    }

    package var description: String { ([executable] + arguments).joined(separator: " ") }
}

package struct CommandResult: Sendable {
    package var status: Int32
    /// stdout and stderr together, when not sent to a log file.
    package var output: String
    package var timedOut: Bool
    package var seconds: Double

    package init(status: Int32, output: String, timedOut: Bool, seconds: Double) {
        self.status = status
        self.output = output
        self.timedOut = timedOut
        self.seconds = seconds
    }

    package var succeeded: Bool { status == 0 && !timedOut }
}

/// Why a command could not even start.
package struct CommandLaunchError: Error, CustomStringConvertible {
    package let command: String
    package let reason: String
    package var description: String { "cannot run " + command + ": " + reason }
}

package protocol ProcessRunning: Sendable {
    func run(_ command: ExternalCommand) throws(CommandLaunchError) -> CommandResult
}

/// Runs commands with Foundation's Process.
package struct LiveProcessRunner: ProcessRunning {
    package init() {}

    package func run(_ command: ExternalCommand) throws(CommandLaunchError) -> CommandResult {
        var argv = [command.executable] + command.arguments
        if let user = command.user {
            argv = ["/usr/bin/setpriv", "--reuid=\(user.uid)", "--regid=\(user.gid)", "--clear-groups", "--no-new-privs", "--"] + argv
        }
        if let timeout = command.timeoutSeconds {
            argv = ["/usr/bin/timeout", "--kill-after=10", String(timeout)] + argv
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
        var environment = ProcessInfo.processInfo.environment
        environment["LC_ALL"] = "C"
        for (key, value) in command.environment { environment[key] = value }
        process.environment = environment
        if let directory = command.workingDirectory {
            process.currentDirectoryURL = URL(fileURLWithPath: directory)
        }
        process.standardInput = FileHandle.nullDevice
        let pipe = Pipe()
        var logHandle: FileHandle?
        if let logFile = command.logFile {
            if !FileManager.default.fileExists(atPath: logFile) {
                _ = FileManager.default.createFile(atPath: logFile, contents: nil)
            }
            guard let handle = FileHandle(forWritingAtPath: logFile) else {
                throw CommandLaunchError(command: command.description, reason: "cannot open log " + logFile)
            }
            handle.seekToEndOfFile()
            logHandle = handle
            process.standardOutput = handle
            process.standardError = handle
        } else {
            process.standardOutput = pipe
            process.standardError = pipe
        }
        let start = Date()
        do {
            try process.run()
        } catch {
            throw CommandLaunchError(command: command.description, reason: String(describing: error))
        }
        var output = Data()
        if logHandle == nil { output = pipe.fileHandleForReading.readDataToEndOfFile() }
        process.waitUntilExit()
        try? logHandle?.close()
        let status = process.terminationReason == .exit ? process.terminationStatus : 128 + process.terminationStatus
        return CommandResult(status: status, output: String(decoding: output, as: UTF8.self),
                             timedOut: command.timeoutSeconds != nil && (status == 124 || status == 137),
                             seconds: Date().timeIntervalSince(start))
    }
}

/// The first executable named `name` in the usual system directories, or nil.
package func findExecutable(_ name: String, root: String = "") -> String? {
    for directory in ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin", "/usr/local/bin"] {
        let path = directory + "/" + name
        if FileAccess.isExecutable(root + path) { return path }
    }
    return nil
}
