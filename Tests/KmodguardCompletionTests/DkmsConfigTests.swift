import KmodguardCompletion
import KmodguardCore
import Testing

@Suite struct DkmsConfigTests {
    func parse(_ text: String) -> DkmsConfig { DkmsConfig.parse(Array(text.utf8)) }

    @Test func typicalDebianDkmsConf() {
        let config = parse("""
        PACKAGE_NAME="dm-writeboost"
        PACKAGE_VERSION="2.2.16"
        BUILT_MODULE_NAME[0]="dm-writeboost"
        BUILT_MODULE_LOCATION[0]="src/"
        DEST_MODULE_LOCATION[0]="/kernel/drivers/md"
        MAKE[0]="make -C ${kernel_source_dir} M=${dkms_tree}/${PACKAGE_NAME}/${PACKAGE_VERSION}/build/src modules"
        CLEAN="make clean"
        AUTOINSTALL="yes"
        """)
        #expect(config.packageName == "dm-writeboost")
        #expect(config.packageVersion == "2.2.16")
        #expect(config.modules == [DkmsModule(name: "dm-writeboost", builtLocation: "src/", destination: "/kernel/drivers/md")])
        #expect(config.make == "make -C ${kernel_source_dir} M=${dkms_tree}/${PACKAGE_NAME}/${PACKAGE_VERSION}/build/src modules")
        #expect(config.clean == "make clean")
        #expect(config.unsupportedLines.isEmpty)
    }

    @Test func severalModulesInIndexOrder() {
        let config = parse("""
        BUILT_MODULE_NAME[1]=b
        BUILT_MODULE_NAME[0]=a
        DEST_MODULE_LOCATION[1]=/updates
        BUILT_MODULE_LOCATION[0]=sub
        """)
        #expect(config.modules.map(\.name) == ["a", "b"])
        #expect(config.modules[0].builtLocation == "sub")
        #expect(config.modules[1].destination == "/updates")
        #expect(config.make == nil)
    }

    @Test func exclusivesPatchesAndComments() {
        let config = parse("""
        # a comment
        export PACKAGE_NAME=acpi_call   # trailing comment
        BUILD_EXCLUSIVE_KERNEL="^(5\\.|6\\.)"
        BUILD_EXCLUSIVE_CONFIG="CONFIG_ACPI !CONFIG_X86_32"
        BUILD_EXCLUSIVE_ARCH='x86_64'
        PATCH[0]="fix-build.patch"
        PATCH_MATCH[0]="^6\\.1"
        if [ "$kernelver" = x ]; then MAKE[0]="make foo"; fi
        """)
        #expect(config.packageName == "acpi_call")
        #expect(config.buildExclusiveKernel == "^(5\\.|6\\.)")
        #expect(config.buildExclusiveConfig == ["CONFIG_ACPI", "!CONFIG_X86_32"])
        #expect(config.buildExclusiveArch == "x86_64")
        #expect(config.patches.count == 1 && config.patches.first?.file == "fix-build.patch" && config.patches.first?.match == "^6\\.1")
        #expect(config.unsupportedLines == [8])
        #expect(config.make == nil)
    }

    let kernel = KernelRelease("6.1.0-56-cloud-amd64")!
    let kernelConfig = Array("CONFIG_ACPI=y\nCONFIG_VIRTIO_BLK=m\n# CONFIG_X86_32 is not set\nCONFIG_FOO=n\n".utf8)

    func exclusion(_ text: String, config: [UInt8]? = nil, matches: @escaping (String, String) -> Bool = { _, _ in true }) -> BuildExclusion? {
        parse(text).exclusion(kernel: kernel, architecture: "x86_64", kernelConfig: config ?? kernelConfig,
                              configPath: "/lib/modules/x/build/.config", matches: matches)
    }

    @Test func exclusionsNameTheFailedCondition() {
        #expect(exclusion("PACKAGE_NAME=x") == nil)
        #expect(exclusion("BUILD_EXCLUSIVE_CONFIG=\"CONFIG_ACPI CONFIG_VIRTIO_BLK !CONFIG_X86_32\"") == nil)
        #expect(exclusion("BUILD_EXCLUSIVE_CONFIG=\"CONFIG_FOO\"") == .configMissing("CONFIG_FOO"))
        #expect(exclusion("BUILD_EXCLUSIVE_CONFIG=\"!CONFIG_ACPI\"") == .configPresent("CONFIG_ACPI"))
        #expect(exclusion("BUILD_EXCLUSIVE_KERNEL=\"^5\\.\"", matches: { _, _ in false }) == .kernel(pattern: "^5\\."))
        #expect(exclusion("BUILD_EXCLUSIVE_ARCH=arm64", matches: { pattern, text in pattern == text })
            == .architecture(pattern: "arm64", actual: "x86_64"))
        #expect(parse("BUILD_EXCLUSIVE_CONFIG=CONFIG_ACPI").exclusion(kernel: kernel, architecture: "x86_64", kernelConfig: nil,
                                                                      configPath: "/p", matches: { _, _ in true })
            == .configUnknown(path: "/p"))
        #expect(BuildExclusion.configMissing("CONFIG_FOO").description == "BUILD_EXCLUSIVE_CONFIG needs CONFIG_FOO but the kernel has it unset")
    }

    @Test func garbageNeverTraps() {
        for text in ["[", "A[", "A[x]=1", "A[99999]=1", "=", "A=\"unterminated", "A=b;c", "\u{0}\u{0}", "BUILT_MODULE_NAME[0]="] {
            _ = parse(text)
        }
        #expect(parse("A=\"unterminated").unsupportedLines == [1])
    }
}
