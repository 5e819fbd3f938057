// libFuzzer target: what kmodguard reads back after bash sourced a dkms.conf — `declare -p`
// output (ShellDeclarations) — and DKMS's read_conf rules over it (DkmsConfig.read), plus the
// kernel .config reader BUILD_EXCLUSIVE_CONFIG uses. Never traps; parsing is deterministic; an
// accepted config has a named module per record and named patches; checking exclusions against
// any kernel config never traps.
import KmodguardCompletion
import KmodguardCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let text = String(decoding: bytes, as: UTF8.self)
    guard let variables = try? ShellDeclarations.parse(text) else { return 0 }
    precondition(variables == (try? ShellDeclarations.parse(text)), "parse is not deterministic")
    let matches: (String, String) -> Bool = { pattern, text in pattern == text || pattern == ".*" }
    guard let config = try? DkmsConfig.read(variables, kernel: "6.1.0-57-cloud-amd64", matches: matches) else { return 0 }
    precondition(config == (try? DkmsConfig.read(variables, kernel: "6.1.0-57-cloud-amd64", matches: matches)),
                 "read is not deterministic")
    precondition(!config.modules.isEmpty && config.modules.allSatisfy { !$0.name.isEmpty }, "module without a name")
    precondition(config.patches.allSatisfy { !$0.file.isEmpty }, "patch without a file")
    if let kernel = KernelRelease("6.1.0-57-cloud-amd64") {
        // The input doubles as the kernel's .config, so options it names may be set there.
        let exclusion = config.exclusion(kernel: kernel, architecture: "x86_64", kernelConfig: bytes, configPath: "/boot/config",
                                         matches: matches)
        _ = exclusion?.description
        let known = KernelConfig(bytes)
        for option in config.buildExclusiveConfig where option.utf8.first != UInt8(ascii: "!") {
            precondition(known.isSet(option) || exclusion != nil, "missing option not reported")
        }
    }
    return 0
}
