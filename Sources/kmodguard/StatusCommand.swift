import ArgumentParser
import KmodguardService

/// `kmodguard status`: one clear answer about the driver on every installed kernel.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show whether every installed kernel has a working driver, and why not.",
        discussion: """
        The first line is the answer (OK, ATTENTION or nothing guarded). Then: the running kernel \
        and the guard's verdict for this boot, the last good kernel, the pin and trial state in \
        grubenv, the last fallback, and per installed kernel the driver state with the first \
        compiler error and the build log of a failed build. Exit status 0 when OK, 1 otherwise.
        """
    )

    @OptionGroup var global: GlobalOptions
    @Flag(name: .long, help: "Print JSON for machines.") var json = false
    @Option(name: .long, help: ArgumentHelp("Treat KVER as the running kernel (for a --root that is not booted).", valueName: "KVER"))
    var running: String?

    func run() throws {
        let report = try StatusReport.current(context: CommandContext(root: global.systemRoot), running: running)
        if json {
            print(try report.json())
        } else {
            print(report.text)
        }
        if !report.ok { throw ExitCode.failure }
    }
}
