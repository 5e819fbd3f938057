import KmodguardCompletion
import KmodguardCore
import Testing

/// `prepare-shutdown`'s decision as a table: what it saw (grubenv, which kernels have their
/// driver, what ran) → the grubenv changes and how loudly it says so.
@Suite struct ShutdownPlannerTests {
    static let old = KernelRelease("6.1.0-56-cloud-amd64")!
    static let new = KernelRelease("6.1.0-57-cloud-amd64")!
    static func path(_ kernel: KernelRelease) -> String { "gnulinux-advanced-x>gnulinux-" + kernel.string + "-advanced-x" }
    /// Debian's menu: the newest kernel on top, every kernel again in the advanced submenu.
    static let menu = GrubMenu(entries: [
        GrubMenuEntry(title: "Debian GNU/Linux", id: "gnulinux-simple-x", submenus: [], kernel: new, isRecovery: false),
        GrubMenuEntry(title: "new", id: "gnulinux-" + new.string + "-advanced-x", submenus: ["gnulinux-advanced-x"], kernel: new, isRecovery: false),
        GrubMenuEntry(title: "old", id: "gnulinux-" + old.string + "-advanced-x", submenus: ["gnulinux-advanced-x"], kernel: old, isRecovery: false),
    ])

    struct Case: Sendable, CustomTestStringConvertible {
        let testDescription: String
        var grubenv: [GrubChange] = []
        var menu = ShutdownPlannerTests.menu
        var running = ShutdownPlannerTests.old
        var guardPassed = true
        var withDriver: Set<KernelRelease> = [ShutdownPlannerTests.old]
        let changes: [GrubChange]
        let severities: [ShutdownPlanner.Severity]
    }

    static let cases: [Case] = [
        Case(testDescription: "default kernel lacks its driver: the running good kernel is pinned",
             changes: [.set(KmodguardVariable.pin, path(old))], severities: [.notice]),
        Case(testDescription: "next_entry names the kernel without its driver: cleared before the pin",
             grubenv: [.set(KmodguardVariable.nextEntry, path(new))],
             changes: [.unset(KmodguardVariable.nextEntry), .set(KmodguardVariable.pin, path(old))], severities: [.warning, .notice]),
        Case(testDescription: "already pinned to the good kernel: nothing to write",
             grubenv: [.set(KmodguardVariable.pin, path(old))], changes: [], severities: [.info]),
        Case(testDescription: "default kernel has its driver and has not booted with it: GRUB trial armed",
             grubenv: [.set(KmodguardVariable.lastGood, old.string)], withDriver: [old, new],
             changes: CompletionPlanner.trial(for: new, goodEntry: path(old)), severities: [.notice]),
        Case(testDescription: "default kernel has its driver and its trial is armed: nothing to do",
             grubenv: [.set(KmodguardVariable.trial, "armed"), .set(KmodguardVariable.trialKernel, new.string)], withDriver: [old, new],
             changes: [], severities: [.info]),
        Case(testDescription: "the default kernel is running with its guard passed: nothing to do",
             running: new, withDriver: [old, new], changes: [], severities: [.info]),
        Case(testDescription: "no good entry known (guard did not pass, none recorded): said loudly, nothing written",
             guardPassed: false, changes: [], severities: [.error]),
        Case(testDescription: "a good entry recorded while the guard did not pass: that entry is pinned",
             grubenv: [.set(KmodguardVariable.goodEntry, path(old))], guardPassed: false,
             changes: [.set(KmodguardVariable.pin, path(old))], severities: [.notice]),
        Case(testDescription: "next_entry names an entry the menu lacks: cannot tell, nothing written",
             grubenv: [.set(KmodguardVariable.nextEntry, "gone>entry")], changes: [], severities: [.info]),
        Case(testDescription: "no menu at all: cannot tell, nothing written",
             menu: GrubMenu(entries: []), changes: [], severities: [.info]),
    ]

    @Test(arguments: cases) func decides(_ testCase: Case) throws {
        var block = GrubEnvBlock()
        try block.apply(testCase.grubenv)
        let defaultKernel = testCase.menu.entries.first?.kernel
        let plan = ShutdownPlanner.plan(ShutdownPlanner.Observation(
            grub: GrubState(block), menu: testCase.menu, defaultKernel: defaultKernel, running: testCase.running,
            guardPassed: testCase.guardPassed, withDriver: testCase.withDriver))
        #expect(plan.changes == testCase.changes)
        #expect(plan.messages.map(\.severity) == testCase.severities, "\(plan.messages.map(\.text))")
    }
}
