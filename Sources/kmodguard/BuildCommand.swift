import ArgumentParser

/// `kmodguard build`: compile the driver for one kernel. (Being written.)
struct BuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "build", abstract: "Build the driver for a kernel.")
    @OptionGroup var global: GlobalOptions

    func run() throws { throw ExitCode.failure }
}
