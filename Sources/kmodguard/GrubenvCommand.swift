import ArgumentParser
import KmodguardCore
import KmodguardService
import KmodguardSystem

/// `kmodguard grubenv`: grub-editenv's list/set/unset, byte-compatible, written in place.
struct GrubenvCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grubenv",
        abstract: "Read or change GRUB's environment block, as grub-editenv does.",
        discussion: """
        Files are byte-identical to what grub-editenv writes. Changes are written in place \
        (same inode, 1024 bytes) and fsync'd. A missing file is created as an empty block; a \
        file that is not a valid block is refused and left untouched.
        """,
        subcommands: [List.self, Set.self, Unset.self]
    )

    @OptionGroup var options: FileOptions

    struct FileOptions: ParsableArguments {
        @OptionGroup var global: GlobalOptions
        @Option(name: .long, help: ArgumentHelp("The environment block (default: ROOT/boot/grub/grubenv).", valueName: "PATH"))
        var file: String?

        var path: String { file ?? global.systemRoot.defaultGrubenv }
        var envFile: GrubEnvFile { GrubEnvFile(path: path) }

        func load() throws -> GrubEnvBlock {
            switch envFile.load() {
            case .success(let block): return block
            case .failure(let error): throw CommandError.grubenv(error)
            }
        }

        func save(_ block: GrubEnvBlock) throws {
            if let error = envFile.save(block) { throw CommandError.grubenv(error) }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print NAME=VALUE for every variable.")
        @OptionGroup var options: FileOptions

        func run() throws {
            let block = try options.load()
            var output = ""
            for variable in block.variables { output += variable.name + "=" + variable.value + "\n" }
            print(output, terminator: "")
        }
    }

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set variables; all or nothing.")
        @OptionGroup var options: FileOptions
        @Argument(help: ArgumentHelp("Assignments.", valueName: "NAME=VALUE"))
        var assignments: [String] = []

        func run() throws {
            var block = try options.load()
            do {
                try block.apply(assignments: assignments)
            } catch {
                throw CommandError.grubenvChange(path: options.path, error)
            }
            try options.save(block)
        }
    }

    struct Unset: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove variables; absent ones are ignored.")
        @OptionGroup var options: FileOptions
        @Argument(help: ArgumentHelp("Variable names.", valueName: "NAME"))
        var names: [String] = []

        func run() throws {
            var block = try options.load()
            for name in names { block.unset(name) }
            try options.save(block)
        }
    }
}
