public import KmodguardCore

/// A boot that did not reach its kernel, moved from grubenv into kmodguard's history.
public struct FallbackEvent: Equatable, Sendable {
    public enum Source: String, CaseIterable, Sendable {
        /// kmodguard-early scheduled a fallback (`kmodguard_failed`).
        case guardFallback = "guard"
        /// A trial boot was consumed by GRUB and never blessed by the post-boot service.
        case trialNotBlessed = "trial"
        /// GRUB's trial counter booted the good entry instead of the default.
        case grub = "grub"
    }

    public let source: Source
    public let failedKernel: KernelRelease?
    public let reason: String

    public init(source: Source, failedKernel: KernelRelease?, reason: String) {
        self.source = source
        self.failedKernel = failedKernel
        self.reason = reason
    }
}
