import ArgumentParser
import Foundation
import KmodguardBuilder
import KmodguardCore
import KmodguardService
import KmodguardSystem

/// `kmodguard build`: compile the driver for one kernel, then install it (or copy it out).
struct BuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build the driver for a kernel and install it (or copy it to --out).",
        discussion: """
        The source is a DKMS tree (a directory with dkms.conf, such as /usr/src/NAME-VERSION) \
        or a plain Kbuild tree (a Kbuild file or a Makefile with obj-m): --source DIR, else \
        SOURCE= from ROOT/etc/kmodguard/kmodguard.conf. It is built as DKMS would build it \
        (MAKE[0] with $kernelver, $kernel_source_dir, $dkms_tree…; PATCH[]; BUILD_EXCLUSIVE_*), \
        in a fresh copy under ROOT/var/lib/kmodguard/build, as user nobody, with make -jN by \
        core count; the full log is kept in ROOT/var/lib/kmodguard/logs/NAME-VERSION-KVER.log.

        Without --out, each module is installed atomically to \
        ROOT/lib/modules/KVER/updates/kmodguard/NAME.ko and depmod is run. \
        The initramfs is not rebuilt: that is `kmodguard complete`'s job.

        Exit status: 0 built (and installed); 77 skipped because the source's BUILD_EXCLUSIVE_* \
        excludes the kernel (as DKMS); 1 failed (missing headers, compile error, …: the message \
        names the first compiler error and the log).
        """
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("Kernel release to build for (default: the running kernel).", valueName: "KVER"))
    var kernel: String?

    @Option(help: ArgumentHelp("Driver source tree (default: SOURCE= from the configuration).", valueName: "DIR"))
    var source: String?

    @Option(help: ArgumentHelp("Copy the built .ko files to DIR instead of installing them.", valueName: "DIR"))
    var out: String?

    @Option(help: ArgumentHelp("Kill the build after this many seconds.", valueName: "S"))
    var timeout: Int = 1800

    func validate() throws {
        guard timeout > 0 else { throw ValidationError("--timeout must be a positive number of seconds") }
    }

    func run() throws {
        let context = CommandContext(root: global.systemRoot)
        let release = try context.kernel(kernel)
        let driver: DriverSource
        do {
            if let source {
                driver = try DriverSource.locate(source)
            } else {
                driver = try DriverSource.configured(try context.loadConfig(), root: context.root)
            }
        } catch let error as DriverSourceError {
            throw BuildCommandError(error.description)
        }

        var builder = DriverBuilder(root: context.root, runner: context.runner)
        builder.timeoutSeconds = timeout
        let output: BuildOutput
        do {
            output = try builder.build(driver, for: release)
        } catch {
            if error.isSkip {
                print(driver.name + " " + driver.version + " for " + release.string + ": " + error.description)
            } else {
                Self.warn("kmodguard: building " + driver.name + " " + driver.version + " for " + release.string + " failed: "
                    + error.description)
            }
            throw ExitCode(error.exitCode)
        }
        print("built " + driver.name + " " + driver.version + " for " + release.string + " in "
            + String(format: "%.1f", output.seconds) + " s: " + output.modules.map { $0.name + ".ko" }.joined(separator: ", ")
            + " (log " + output.log + ")")

        if let out {
            do {
                for path in try ModuleInstaller.copy(output, to: out) { print("copied " + path) }
            } catch {
                throw BuildCommandError(error.description)
            }
            return
        }
        do {
            for path in try ModuleInstaller.install(output, kernel: release, root: context.root, runner: context.runner) {
                print("installed " + path)
            }
        } catch {
            Self.warn("kmodguard: installing for " + release.string + " failed: " + error.description)
            throw ExitCode.failure
        }
        print("modules.dep of " + release.string + " lists them; its initramfs is not rebuilt (kmodguard complete does that)")
    }

    static func warn(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }
}
