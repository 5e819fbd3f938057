import Foundation
import KmodguardCompletion
import KmodguardCore
@testable import KmodguardBuilder
import KmodguardSystem
import Testing

/// dkms.conf evaluated by bash, as DKMS sources it (real bash; no kernel headers needed).
@Suite struct DkmsConfigEvaluationTests {
    let kernel = "6.1.0-57-cloud-amd64"

    /// A source folder NAME-VERSION holding `conf` as dkms.conf and, if given, a fake kernel tree
    /// with `kernelConfig` as its .config.
    func evaluate(_ conf: String, folder: String = "drv-1.0", kernelConfig: String? = nil) throws -> (DriverSource, DkmsConfig) {
        let directory = try BuilderTemporaryDirectory()
        let source = try directory.make(folder)
        try directory.write(source + "/dkms.conf", conf)
        let headers = try directory.make("headers")
        if let kernelConfig { try directory.write(headers + "/.config", kernelConfig) }
        let located = try DriverSource.locate(source)
        let evaluated = try located.evaluated(DkmsConfigEvaluation(), context: DkmsConfigEvaluation.Context(
            kernel: kernel, architecture: "x86_64", kernelSourceDirectory: headers, dkmsTree: "/var/lib/kmodguard/build/t",
            sourceTree: directory.path, module: located.name, moduleVersion: located.version))
        directory.remove()
        return (located, try #require(evaluated.dkmsConfig))
    }

    /// `BUILT_MODULE_NAME[0]="$PACKAGE_NAME"` (rejected outright by the old static reader), a
    /// scalar `BUILT_MODULE_LOCATION` (element 0), `$kernelver` and a command substitution in MAKE.
    @Test func valuesReferenceVariables() throws {
        let (source, config) = try evaluate("""
        PACKAGE_NAME="drv"
        PACKAGE_VERSION="1.0"
        PROCS_NUM=`echo 3`
        BUILT_MODULE_NAME[0]="$PACKAGE_NAME"
        BUILT_MODULE_LOCATION="src"
        DEST_MODULE_LOCATION[0]="/extra"
        MAKE[0]="make -j$PROCS_NUM KVER=$kernelver -C $kernel_source_dir M=$dkms_tree/$PACKAGE_NAME/$PACKAGE_VERSION/build/src"
        """)
        #expect(source.name == "drv" && source.version == "1.0")
        #expect(config.modules == [DkmsModule(name: "drv", builtLocation: "src/", destination: "/extra")])
        #expect(config.make?.hasPrefix("make -j3 KVER=6.1.0-57-cloud-amd64 -C /") == true)
        #expect(config.make?.hasSuffix(" M=/var/lib/kmodguard/build/t/drv/1.0/build/src") == true)
    }

    /// v4l2loopback/digimend: a `.config` conditional sets BUILD_EXCLUSIVE_KERNEL to a message.
    @Test(arguments: [("CONFIG_USB_HID=m\n", false), ("# CONFIG_USB_HID is not set\n", true)])
    func kernelConfigConditionalSetsTheExclusion(kernelConfig: String, excluded: Bool) throws {
        let (_, config) = try evaluate("""
        PACKAGE_NAME="drv"
        PACKAGE_VERSION="1.0"
        if [ -f $kernel_source_dir/.config ]; then
            . $kernel_source_dir/.config
            if [ "${CONFIG_USB_HID:-n}" = "n" ]; then
                BUILD_EXCLUSIVE_KERNEL="REQUIRES CONFIG_USB_HID"
            fi
        fi
        BUILT_MODULE_NAME[0]="hid-kye"
        DEST_MODULE_LOCATION[0]="/extra"
        """, kernelConfig: kernelConfig)
        #expect(config.buildExclusiveKernel == (excluded ? "REQUIRES CONFIG_USB_HID" : nil))
        let exclusion = config.exclusion(kernel: try #require(KernelRelease(kernel)), architecture: "x86_64", kernelConfig: nil,
                                         configPath: "/x", matches: ExtendedRegex.matches)
        #expect((exclusion != nil) == excluded)
    }

    /// A vendor script left `#MODULE_VERSION#`: the folder's version is the one DKMS builds under.
    @Test func placeholderVersionTakesTheFolderVersion() throws {
        let (source, _) = try evaluate("""
        PACKAGE_NAME="hptdrv"
        PACKAGE_VERSION="#MODULE_VERSION#"
        BUILT_MODULE_NAME[0]="hptnvme"
        DEST_MODULE_LOCATION[0]="/kernel/drivers/scsi"
        """, folder: "hptdrv-1.4.7")
        #expect(source.version == "1.4.7")
    }

    @Test func unsupportedKeysAndBadFilesFailByName() throws {
        do {
            _ = try evaluate("PACKAGE_NAME=drv\nPACKAGE_VERSION=1.0\nDEST_MODULE_LOCATION=/extra\nPOST_INSTALL=x.sh\n")
            Issue.record("accepted POST_INSTALL")
        } catch let error as DriverSourceError {
            #expect(error.description.contains("POST_INSTALL is set, and kmodguard does not support it"))
        }
    }

    /// The file runs with a clean environment and, as root, without network.
    @Test func cleanEnvironmentAndNoNetwork() throws {
        setenv("KMODGUARD_LEAK", "leaked", 1)
        defer { unsetenv("KMODGUARD_LEAK") }
        let (_, config) = try evaluate("""
        PACKAGE_NAME=drv
        PACKAGE_VERSION=1.0
        BUILT_MODULE_NAME[0]="x${KMODGUARD_LEAK}"
        DEST_MODULE_LOCATION[0]=/extra
        MAKE[0]="$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\\n' ' ')"
        """)
        #expect(config.modules.first?.name == "x")
        if geteuid() == 0 {
            // Only the loopback device exists in a fresh network namespace.
            #expect(config.make == "lo ")
        }
    }
}
