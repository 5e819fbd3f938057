import KmodguardCompletion
import KmodguardCore
import Testing

/// `DkmsConfig.read`: DKMS's `read_conf` applied to the variables a sourced dkms.conf left, given
/// here as the `declare -p` text bash prints for them.
@Suite struct DkmsConfigTests {
    func read(_ declarations: String, kernel: String = "6.1.0-56-cloud-amd64",
              matches: (String, String) -> Bool = { pattern, text in text.hasPrefix(String(pattern.drop { $0 == "^" })) })
        throws -> DkmsConfig {
        try DkmsConfig.read(try ShellDeclarations.parse(declarations), kernel: kernel, matches: matches)
    }

    func problems(_ declarations: String) throws -> [String] {
        do {
            _ = try read(declarations)
            return []
        } catch let error as DkmsConfigError {
            return error.problems
        }
    }

    let base = """
    declare -a PACKAGE_NAME=([0]="dm-writeboost")
    declare -a PACKAGE_VERSION=([0]="2.2.17")

    """

    @Test func typicalDebianDkmsConf() throws {
        let config = try read(base + """
        declare -a BUILT_MODULE_NAME=([0]="dm-writeboost")
        declare -a BUILT_MODULE_LOCATION=([0]="src")
        declare -a DEST_MODULE_LOCATION=([0]="/kernel/drivers/md")
        declare -a MAKE=([0]="make -C /lib/modules/K/build M=/var/lib/dkms/dm-writeboost/2.2.17/build/src modules")
        declare -a CLEAN=([0]="make clean")
        declare -a AUTOINSTALL=([0]="yes")
        """)
        #expect(config.packageName == "dm-writeboost")
        #expect(config.packageVersion == "2.2.17")
        // DKMS appends the slash to a location.
        #expect(config.modules == [DkmsModule(name: "dm-writeboost", builtLocation: "src/", destination: "/kernel/drivers/md")])
        #expect(config.make == "make -C /lib/modules/K/build M=/var/lib/dkms/dm-writeboost/2.2.17/build/src modules")
        #expect(config.clean == "make clean")
    }

    /// `BUILT_MODULE_LOCATION="dir"` is element 0 (a scalar is `X[0]` in bash); a missing
    /// `BUILT_MODULE_NAME` is `PACKAGE_NAME` when there is one `DEST_MODULE_LOCATION`.
    @Test func scalarsAreElementZeroAndTheNameDefaultsToThePackage() throws {
        let config = try read(base + """
        declare -- BUILT_MODULE_LOCATION="sub"
        declare -- DEST_MODULE_LOCATION="/updates"
        declare -- MAKE="make KVER=6.1"
        """)
        #expect(config.modules == [DkmsModule(name: "dm-writeboost", builtLocation: "sub/", destination: "/updates")])
        #expect(config.make == "make KVER=6.1")
    }

    @Test func recordsAreCountedAsDkmsCountsThem() throws {
        let config = try read(base + """
        declare -a BUILT_MODULE_NAME=([0]="a" [1]="b")
        declare -a DEST_MODULE_LOCATION=([0]="/extra" [1]="/extra")
        declare -a STRIP=([0]="no")
        """)
        #expect(config.modules.map(\.name) == ["a", "b"])
        // STRIP[1] unset takes STRIP[0].
        #expect(config.modules.map(\.strip) == [false, false])
        #expect(config.make == nil)
    }

    @Test(arguments: [
        ("", ["no DEST_MODULE_LOCATION", "no PACKAGE_NAME", "no PACKAGE_VERSION"]),
        ("declare -a BUILT_MODULE_NAME=([0]=\"a.ko\")\ndeclare -a DEST_MODULE_LOCATION=([0]=\"/extra\")",
         ["BUILT_MODULE_NAME ends in .o or .ko (record #0)", "no PACKAGE_NAME", "no PACKAGE_VERSION"]),
        ("declare -a PACKAGE_NAME=([0]=\"p\")\ndeclare -a PACKAGE_VERSION=([0]=\"1\")\ndeclare -a DEST_MODULE_LOCATION=([0]=\"/lib\")",
         ["DEST_MODULE_LOCATION does not begin with /kernel, /updates or /extra (record #0)"]),
        ("declare -a PACKAGE_NAME=([0]=\"p\")\ndeclare -a PACKAGE_VERSION=([0]=\"1\")\ndeclare -a DEST_MODULE_LOCATION=([0]=\"/extra\")\ndeclare -a POST_INSTALL=([0]=\"x.sh\")",
         ["POST_INSTALL is set, and kmodguard does not support it (remove it, or build this source with DKMS)"]),
        ("declare -a PACKAGE_NAME=([0]=\"p\")\ndeclare -a PACKAGE_VERSION=([0]=\"1\")\ndeclare -a DEST_MODULE_LOCATION=([0]=\"/extra\")\ndeclare -a BUILD_DEPENDS=([0]=\"other\")",
         ["BUILD_DEPENDS is set, and kmodguard does not support it (remove it, or build this source with DKMS)"]),
    ])
    func badConfFilesNameTheProblem(declarations: String, expected: [String]) throws {
        #expect(try problems(declarations) == expected)
    }

    @Test func makeMatchAndPatchMatch() throws {
        let config = try read(base + """
        declare -a DEST_MODULE_LOCATION=([0]="/extra")
        declare -a MAKE=([0]="make old" [1]="make new")
        declare -a MAKE_MATCH=([0]="^5" [1]="^6")
        declare -a PATCH=([0]="fix.patch")
        declare -a PATCH_MATCH=([0]="^6\\.1")
        declare -a PRE_BUILD=([0]="configure --x")
        declare -a POST_BUILD=([0]="post.sh")
        """)
        #expect(config.make == "make new")
        #expect(config.patches == [DkmsPatch(file: "fix.patch", match: "^6\\.1")])
        #expect(config.preBuild == "configure --x")
        #expect(config.postBuild == "post.sh")
    }

    let kernel = KernelRelease("6.1.0-56-cloud-amd64")!
    let kernelConfig = Array("CONFIG_ACPI=y\nCONFIG_VIRTIO_BLK=m\n# CONFIG_X86_32 is not set\nCONFIG_FOO=n\n".utf8)

    func exclusion(_ line: String, config: [UInt8]? = nil,
                   matches: @escaping (String, String) -> Bool = { _, _ in true }) throws -> BuildExclusion? {
        try read(base + "declare -a DEST_MODULE_LOCATION=([0]=\"/extra\")\n" + line)
            .exclusion(kernel: kernel, architecture: "x86_64", kernelConfig: config ?? kernelConfig,
                       configPath: "/lib/modules/x/build/.config", matches: matches)
    }

    @Test func exclusionsNameTheFailedCondition() throws {
        #expect(try exclusion("") == nil)
        #expect(try exclusion("declare -- BUILD_EXCLUSIVE_CONFIG=\"CONFIG_ACPI CONFIG_VIRTIO_BLK !CONFIG_X86_32\"") == nil)
        #expect(try exclusion("declare -- BUILD_EXCLUSIVE_CONFIG=\"CONFIG_FOO\"") == .configMissing("CONFIG_FOO"))
        #expect(try exclusion("declare -- BUILD_EXCLUSIVE_CONFIG=\"!CONFIG_ACPI\"") == .configPresent("CONFIG_ACPI"))
        // A .config conditional that sets BUILD_EXCLUSIVE_KERNEL to a message: matches nothing.
        #expect(try exclusion("declare -- BUILD_EXCLUSIVE_KERNEL=\"REQUIRES CONFIG_USB_HID\"", matches: { _, _ in false })
            == .kernel(pattern: "REQUIRES CONFIG_USB_HID"))
        #expect(try exclusion("declare -- BUILD_EXCLUSIVE_ARCH=\"arm64\"", matches: { pattern, text in pattern == text })
            == .architecture(pattern: "arm64", actual: "x86_64"))
        #expect(BuildExclusion.configMissing("CONFIG_FOO").description == "BUILD_EXCLUSIVE_CONFIG needs CONFIG_FOO but the kernel has it unset")
    }
}
