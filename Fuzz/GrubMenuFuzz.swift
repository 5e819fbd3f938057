// libFuzzer target: grub.cfg parser. Never traps; every chosen entry boots the kernel asked for.
import KmodguardCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let menu = GrubMenu(parsing: Array(UnsafeBufferPointer(start: data, count: size)))
    for kernel in menu.kernels {
        guard let entry = menu.entry(for: kernel) else { preconditionFailure("listed kernel without entry") }
        precondition(entry.kernel == kernel && !entry.isRecovery)
        _ = entry.path
    }
    return 0
}
