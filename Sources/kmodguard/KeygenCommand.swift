import ArgumentParser
import KmodguardDatabase

/// `kmodguard keygen`: make the Ed25519 key pair that signs a driver database. The secret half
/// stays with the publisher (`publish --key`); the public half goes to
/// `/etc/kmodguard/keys/` on every machine that installs from the database.
struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Create a key pair for signing a driver database.",
        discussion: """
            Writes DIR/NAME.key (secret, mode 0600) and DIR/NAME.pub. Copy NAME.pub to \
            /etc/kmodguard/keys/ on every machine that uses the database. Existing files are never \
            overwritten.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: ArgumentHelp("Directory for the key files.", valueName: "DIR"))
    var out: String

    @Option(name: .long, help: ArgumentHelp("Base name of the key files.", valueName: "NAME"))
    var name: String = "kmodguard-database"

    func run() throws {
        let paths = try KeyPairFiles.create(directory: out, name: name)
        print("secret key: " + paths.secret + " (keep it on the publishing machine: kmodguard publish --key)")
        print("public key: " + paths.public + " (id " + paths.id + "; install it as /etc/kmodguard/keys/" + name
              + ".pub on every machine)")
    }
}
