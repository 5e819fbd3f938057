import ArgumentParser
import KmodguardCore

let kmodguardVersionString = kmodguardVersion

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Treat DIR as / for every path.", valueName: "DIR"))
    var root: String = "/"

    var systemRoot: SystemRoot { SystemRoot(root) }
}
