import KmodguardCore
import Testing

@Suite struct FallbackPolicyTests {
    let running = KernelRelease("6.1.0-56-cloud-amd64")!
    let good = KernelRelease("6.1.0-55-cloud-amd64")!
    let older = KernelRelease("6.1.0-47-cloud-amd64")!

    func kernel(_ release: KernelRelease, image: Bool = true, entry: Bool = true, modules: ModuleAvailability = .resolved) -> InstalledKernel {
        InstalledKernel(release: release, hasImage: image, menuPath: entry ? "menu>" + release.string : nil, modules: modules)
    }

    func decide(lastGood: KernelRelease?, _ installed: [InstalledKernel], attempts: Int = 0) -> FallbackDecision {
        FallbackPolicy.decide(running: running, lastGood: lastGood, installed: installed, attempts: attempts, maxAttempts: 3)
    }

    @Test func validLastGoodWins() {
        let decision = decide(lastGood: older, [kernel(running, modules: .unresolved(["x"])), kernel(good), kernel(older)])
        #expect(decision == .boot(kernel(older), lastGood: true))
    }

    @Test func lastGoodWithInvisibleTreeIsTrusted() {
        let installed = [kernel(good, modules: .notVisible(verified: false))]
        #expect(decide(lastGood: good, installed) == .boot(installed[0], lastGood: true))
    }

    @Test(arguments: [
        (true, false, ModuleAvailability.resolved),
        (false, true, ModuleAvailability.resolved),
        (true, true, ModuleAvailability.unresolved(["virtio_blk"])),
    ])
    func invalidLastGoodFallsToNewestWorking(image: Bool, entry: Bool, modules: ModuleAvailability) {
        let installed = [kernel(good), kernel(older, image: image, entry: entry, modules: modules)]
        #expect(decide(lastGood: older, installed) == .boot(kernel(good), lastGood: false))
    }

    @Test func uninstalledLastGoodFallsToNewestWorking() {
        #expect(decide(lastGood: KernelRelease("5.10.0-1-amd64"), [kernel(older), kernel(good)]) == .boot(kernel(good), lastGood: false))
    }

    @Test func newestWorkingSkipsBrokenNewerKernels() {
        let newer = KernelRelease("6.1.0-57-cloud-amd64")!
        let installed = [kernel(newer, modules: .unresolved(["virtio_blk"])), kernel(older), kernel(good, modules: .unresolved(["virtio_blk"]))]
        #expect(decide(lastGood: nil, installed) == .boot(kernel(older), lastGood: false))
    }

    @Test func invisibleTreeNeedsVerifiedListUnlessLastGood() {
        #expect(decide(lastGood: nil, [kernel(good, modules: .notVisible(verified: false))]) == .giveUp(.noCandidate))
        let verified = kernel(good, modules: .notVisible(verified: true))
        #expect(decide(lastGood: nil, [verified]) == .boot(verified, lastGood: false))
    }

    @Test func runningKernelIsNeverChosen() {
        // Even when it is recorded as last good and its tree resolves.
        #expect(decide(lastGood: running, [kernel(running)]) == .giveUp(.noCandidate))
        #expect(decide(lastGood: nil, [kernel(running)]) == .giveUp(.noCandidate))
    }

    @Test func noCandidate() {
        #expect(decide(lastGood: nil, []) == .giveUp(.noCandidate))
        #expect(decide(lastGood: good, [kernel(good, image: false)]) == .giveUp(.noCandidate))
    }

    @Test func attemptsExceeded() {
        #expect(decide(lastGood: good, [kernel(good)], attempts: 2) == .boot(kernel(good), lastGood: true))
        #expect(decide(lastGood: good, [kernel(good)], attempts: 3) == .giveUp(.attemptsExceeded(attempts: 3, limit: 3)))
    }

    @Test func rejectionsSayWhy() {
        #expect(FallbackPolicy.rejection(of: kernel(running), running: running, isLastGood: false) == "it is the running kernel")
        #expect(FallbackPolicy.rejection(of: kernel(good, entry: false), running: running, isLastGood: false)?.contains("menu entry") == true)
        #expect(FallbackPolicy.rejection(of: kernel(good, modules: .unresolved(["a", "b"])), running: running, isLastGood: false)
            == "modules not in its tree: a b")
        #expect(FallbackPolicy.rejection(of: kernel(good), running: running, isLastGood: false) == nil)
    }

    @Test(arguments: [
        ("BOOT_IMAGE=/vmlinuz-6.1.0-56-cloud-amd64 root=UUID=x ro kmodguard.boot=trial\n", "trial"),
        ("ro kmodguard.boot= quiet", ""),
        ("kmodguard.boot=once", "once"),
        ("ro kmodguard.boot=pin kmodguard.boot=trial", "trial"),
        ("ro\tkmodguard.boot=fallback\n", "fallback"),
        ("ro quiet kmodguard=off xkmodguard.boot=trial", nil),
        ("", nil),
    ] as [(String, String?)])
    func bootMarkerIsTheLastKmodguardBootWord(commandLine: String, marker: String?) {
        #expect(BootMarker.value(in: Array(commandLine.utf8)) == marker)
    }

    @Test(arguments: [
        ("trial", UnreachableGrubenvDecision.rebootIntoGrubFallback),
        ("once", .rebootIntoGrubFallback),
        ("", .giveUp(.rebootWouldRepeat(marker: ""))),
        ("pin", .giveUp(.rebootWouldRepeat(marker: "pin"))),
        ("fallback", .giveUp(.rebootWouldRepeat(marker: "fallback"))),
        ("Trial", .giveUp(.rebootWouldRepeat(marker: "Trial"))),
        (nil, .giveUp(.rebootWouldRepeat(marker: nil))),
    ] as [(String?, UnreachableGrubenvDecision)])
    func withoutGrubenvARebootMustChangeWhatGrubBoots(marker: String?, decision: UnreachableGrubenvDecision) {
        #expect(FallbackPolicy.withoutGrubenv(marker: marker) == decision)
    }
}
