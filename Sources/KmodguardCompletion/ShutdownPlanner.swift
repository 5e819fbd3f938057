public import KmodguardCore

/// `prepare-shutdown`'s whole decision, from what it saw to the grubenv changes and what to say:
/// the kernel the next boot picks (next_entry's, else the pin's, else GRUB's default) must have
/// its driver, or the last good entry is pinned — and a next_entry naming that kernel cleared,
/// since GRUB honours it before the pin; a kernel with its driver that has not booted with it
/// yet gets GRUB's trial, so a boot that cannot write grubenv still comes back.
public enum ShutdownPlanner {
    public struct Observation: Sendable {
        public var grub: GrubState
        public var menu: GrubMenu
        public var defaultKernel: KernelRelease?
        public var running: KernelRelease
        public var guardPassed: Bool
        /// The installed kernels whose guarded modules all resolve.
        public var withDriver: Set<KernelRelease>

        public init(grub: GrubState, menu: GrubMenu, defaultKernel: KernelRelease?, running: KernelRelease, guardPassed: Bool,
                    withDriver: Set<KernelRelease>) {
            self.grub = grub
            self.menu = menu
            self.defaultKernel = defaultKernel
            self.running = running
            self.guardPassed = guardPassed
            self.withDriver = withDriver
        }
    }

    public enum Severity: Sendable { case info, notice, warning, error }

    public struct Message: Equatable, Sendable {
        public let severity: Severity
        public let text: String
    }

    public struct Plan: Equatable, Sendable {
        public var changes: [GrubChange] = []
        public var messages: [Message] = []
    }

    /// The kernel GRUB boots next, if the menu tells.
    public static func nextKernel(_ seen: Observation) -> KernelRelease? {
        if let entry = seen.grub.nextEntry {
            return seen.menu.entry(named: entry, matchingIDs: true)?.kernel
        }
        if let pin = seen.grub.pin {
            return seen.menu.entry(named: pin)?.kernel
        }
        return seen.defaultKernel
    }

    public static func plan(_ seen: Observation) -> Plan {
        var plan = Plan()
        func say(_ severity: Severity, _ text: String) { plan.messages.append(Message(severity: severity, text: text)) }
        let grub = seen.grub
        let goodEntry = seen.guardPassed ? seen.menu.entry(for: seen.running)?.path : grub.goodEntry
        guard let next = nextKernel(seen) else {
            say(.info, "next boot: cannot tell which kernel GRUB picks; nothing to do")
            return plan
        }
        if seen.withDriver.contains(next) {
            let lastGood = seen.guardPassed ? seen.running : grub.lastGood
            guard grub.nextEntry == nil, grub.pin == nil,
                  CompletionPlanner.needsTrial(defaultKernel: next, lastGood: lastGood, running: seen.running,
                                               guardPassed: seen.guardPassed, grub: grub) else {
                say(.info, "next boot: " + next.string + " has its driver; nothing to do")
                return plan
            }
            plan.changes = CompletionPlanner.trial(for: next, goodEntry: goodEntry)
            say(.notice, "next boot: " + next.string + " has not booted with its driver yet: GRUB trial armed")
            return plan
        }
        guard let goodEntry else {
            say(.error, "next boot picks " + next.string + ", which lacks its driver, and no good GRUB entry is known to pin")
            return plan
        }
        if grub.nextEntry != nil {
            // GRUB honours a one-shot next_entry before kmodguard_pin (docs/grub.md, "Precedence").
            plan.changes.append(.unset(KmodguardVariable.nextEntry))
            say(.warning, "next_entry would boot " + next.string + ", which lacks its driver: cleared it")
        }
        if grub.pin != goodEntry { plan.changes.append(.set(KmodguardVariable.pin, goodEntry)) }
        if !plan.changes.isEmpty {
            say(.notice, "next boot would pick " + next.string + " without its driver: pinned " + goodEntry)
        }
        return plan
    }
}
