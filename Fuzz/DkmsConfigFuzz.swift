// libFuzzer target: dkms.conf parser (and the kernel .config reader BUILD_EXCLUSIVE_CONFIG uses).
// Never traps; every module and patch it reports has a name; unsupported lines are real lines,
// in order; parsing is deterministic; checking exclusions against any kernel config never traps.
import KmodguardCompletion
import KmodguardCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let config = DkmsConfig.parse(bytes)
    precondition(config == DkmsConfig.parse(bytes), "parse is not deterministic")
    precondition(config.modules.allSatisfy { !$0.name.isEmpty }, "module without a name")
    precondition(config.patches.allSatisfy { !$0.file.isEmpty }, "patch without a file")
    let lines = bytes.reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
    var previous = 0
    for line in config.unsupportedLines {
        precondition(line > previous && line <= lines, "unsupported line out of order or range")
        previous = line
    }
    if let kernel = KernelRelease("6.1.0-57-cloud-amd64") {
        // The input doubles as the kernel's .config, so options it names may be set there.
        let exclusion = config.exclusion(kernel: kernel, architecture: "x86_64", kernelConfig: bytes, configPath: "/boot/config",
                                         matches: { pattern, text in pattern == text || pattern == ".*" })
        _ = exclusion?.description
        let known = KernelConfig(bytes)
        for option in config.buildExclusiveConfig where option.utf8.first != UInt8(ascii: "!") {
            precondition(known.isSet(option) || exclusion != nil, "missing option not reported")
        }
    }
    return 0
}
