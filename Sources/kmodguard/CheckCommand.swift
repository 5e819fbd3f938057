import ArgumentParser
import KmodguardCore
import KmodguardService
import KmodguardSystem

/// `kmodguard check`: do the guarded modules resolve, with the right vermagic, for a kernel?
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check that the guarded modules resolve and match a kernel (default: every installed kernel).",
        discussion: "Exit status 0 when every checked kernel has them, 1 otherwise."
    )

    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: ArgumentHelp("Check only this kernel release.", valueName: "KVER"))
    var kernel: String?

    func run() throws {
        let context = CommandContext(root: global.systemRoot)
        let config = try context.loadConfig()
        guard !config.modules.isEmpty else {
            print("nothing guarded: MODULES is empty in " + context.root.config)
            return
        }
        let kernels = try kernel.map { [try context.kernel($0)] } ?? context.installedKernels()
        var allGood = true
        for release in kernels {
            guard let kmod = KmodContext(root: context.root, kernel: release) else {
                print(release.string + ": cannot read " + context.root.modules(release))
                allGood = false
                continue
            }
            for module in config.modules {
                if let failure = kmod.check(module, kernel: release) {
                    print(release.string + ": " + module + ": " + failure.detail)
                    allGood = false
                } else {
                    print(release.string + ": " + module + ": ok")
                }
            }
        }
        if !allGood { throw ExitCode.failure }
    }
}
