import KmodguardCore

/// The real per-kernel steps: driver source → build → install → depmod, then initramfs.
struct LiveCompletionSteps: CompletionSteps {
    let context: CommandContext
    let snapshot: SystemSnapshot

    func driverIdentity() -> String { snapshot.config.source ?? "none" }

    mutating func obtainDriver(for kernel: KernelRelease) -> DriverOutcome {
        .failed(message: "driver builder not wired yet", firstError: nil, log: nil)
    }

    mutating func rebuildInitramfs(for kernel: KernelRelease, modules: [String]) -> InitramfsOutcome {
        .skipped("initramfs rebuild not wired yet")
    }
}
