import ArgumentParser

/// `kmodguard`: the post-boot command line.
@main
struct Kmodguard: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kmodguard",
        abstract: "Keep a machine bootable when its out-of-tree storage driver is missing for a new kernel.",
        version: kmodguardVersionString,
        subcommands: [CompleteCommand.self, PrepareShutdownCommand.self, StatusCommand.self, CheckCommand.self, BuildCommand.self,
                      KeygenCommand.self, PublishCommand.self, KernelRemovedCommand.self, GrubenvCommand.self, NextBootCommand.self]
    )

    @OptionGroup var global: GlobalOptions
}
