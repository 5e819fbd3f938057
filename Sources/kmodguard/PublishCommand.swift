import ArgumentParser
import KmodguardBuilder
import KmodguardCompletion
import KmodguardCore
import KmodguardDatabase

/// `kmodguard publish`: add a driver (source and, optionally, modules prebuilt for exact
/// kernels) to a static database tree and sign the new index, so one machine builds and a
/// fleet installs.
struct PublishCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Add a driver to a signed driver database tree.",
        discussion: """
            Writes DB/sources/NAME-VERSION-*.tar.gz, DB/prebuilt/KVER/MODULE-*.ko, DB/index.json \
            and DB/index.json.sig (format: docs/database.md). An existing DB is extended; its index \
            must be signed by the same key. Serve DB over HTTPS and set DATABASE_URL to its URL.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: ArgumentHelp("Driver source tree (dkms.conf or Kbuild).", valueName: "DIR"))
    var source: String

    @Option(name: .long, help: ArgumentHelp("Secret key from kmodguard keygen.", valueName: "KEY"))
    var key: String

    @Option(name: .long, help: ArgumentHelp("Database directory to create or update.", valueName: "DB"))
    var out: String

    @Option(name: .customLong("prebuilt"), help: ArgumentHelp(
        "Build the modules for this kernel (its headers must be installed) and publish them.", valueName: "KVER"))
    var prebuiltKernels: [String] = []

    @Option(name: .customLong("prebuilt-module"), help: ArgumentHelp(
        "Publish a module already built for KVER.", valueName: "KVER=PATH.ko"))
    var prebuiltModules: [String] = []

    @Option(name: .customLong("base-url"), help: ArgumentHelp(
        "Write absolute URLs under this prefix (default: relative to index.json).", valueName: "URL"))
    var baseURL: String?

    @Option(name: .long, help: ArgumentHelp("Supported kernels, e.g. 6.1..6.2 (repeatable; default: any).", valueName: "FROM..BEFORE"))
    var kernels: [String] = []

    @Option(name: .long, help: ArgumentHelp("Driver name (default: PACKAGE_NAME).", valueName: "NAME"))
    var name: String?

    @Option(name: .customLong("driver-version"), help: ArgumentHelp("Driver version (default: PACKAGE_VERSION).", valueName: "VERSION"))
    var driverVersion: String?

    @Option(name: .customLong("module"), help: ArgumentHelp("Module the driver provides (default: BUILT_MODULE_NAME[]).", valueName: "NAME"))
    var modules: [String] = []

    func run() throws {
        let root = global.systemRoot
        var request = PublishRequest(source: source, keyFile: key, output: out)
        request.baseURL = baseURL
        request.name = name
        request.version = driverVersion
        request.modules = modules
        for text in kernels {
            guard let range = DriverKernelRange(parsing: text) else {
                throw ValidationError("--kernels '" + text + "' is not FROM..BEFORE with kernel releases (either side may be empty)")
            }
            request.kernels.append(range)
        }
        for text in prebuiltKernels {
            guard let kernel = KernelRelease(text) else { throw ValidationError("--prebuilt '" + text + "' is not a kernel release") }
            request.buildFor.append(kernel)
        }
        for text in prebuiltModules {
            let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let kernel = KernelRelease(parts[0]), !parts[1].isEmpty else {
                throw ValidationError("--prebuilt-module '" + text + "' is not KVER=PATH.ko")
            }
            request.prebuiltModules.append((kernel, parts[1]))
        }
        var publisher = Publisher(root: root)
        publisher.build = Publisher.driverBuilder(root: root)
        let result = try publisher.publish(request)
        let kernelsBuilt = result.driver.prebuilt.keys.sorted()
        print("published " + result.driver.identity + " (generation " + String(result.index.generation) + ") in " + result.indexPath)
        print("source: " + result.driver.source.url + " sha256 " + result.driver.source.sha256)
        if !kernelsBuilt.isEmpty { print("prebuilt for: " + kernelsBuilt.joined(separator: ", ")) }
    }
}
