import KmodguardCore
import Testing

/// The guard's decision as a table: what it saw (modules, devices, grubenv, menu, kernels, the
/// kernel command line) → what it does (outcome, grubenv changes, reboot, the line that says why).
/// The machine: the running kernel 6.1.0-56 lacks virtio_blk; 6.1.0-55 is installed beside it
/// with a menu entry (EarlyGuardTests.grubConfig).
@Suite struct GuardPlannerTests {
    static let new = KernelRelease("6.1.0-56-cloud-amd64")!
    static let old = KernelRelease("6.1.0-55-cloud-amd64")!
    static let oldPath = "gnulinux-advanced-\(EarlyGuardTests.uuid)>gnulinux-6.1.0-55-cloud-amd64-advanced-\(EarlyGuardTests.uuid)"

    /// Where grubenv was looked for and what was there.
    enum Grubenv: Sendable {
        /// A valid block with these variables.
        case block([String: String])
        case notABlock
        case absent
        case mountFailed
    }

    /// What the guard saw.
    struct Saw: Sendable {
        var config = "MODULES=virtio_blk"
        /// Every guarded module fails this way (nil: they load).
        var failure: ModuleLoadFailure? = .notFound
        var missingDevices: [String] = []
        var grubenv = Grubenv.block([:])
        /// The old kernel's module tree, as seen from here.
        var oldTree = ModuleAvailability.resolved
        var verified: [KernelRelease] = []
        var commandLine: String?
        var writeRefused = false
    }

    /// What the guard does.
    struct Does: Sendable {
        var outcome: GuardOutcome
        /// nil: grubenv is not written.
        var changes: [GrubChange]?
        var reboot: Bool
        /// Part of one of its log lines.
        var says: String
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var saw: Saw
        var does: Does
        var testDescription: String { name }
    }

    static func fallback(attempt: Int = 1, reason: String? = "virtio_blk: not found") -> [GrubChange] {
        [.set("next_entry", oldPath), .set("kmodguard_failed", new.string)]
            + (reason.map { [GrubChange.set("kmodguard_reason", $0)] } ?? []) + [.set("kmodguard_attempts", String(attempt))]
    }

    static let cases: [Case] = {
        var crowded = Saw()
        crowded.failure = .vermagicMismatch(module: String(repeating: "m", count: 100), kernel: "k")
        crowded.grubenv = .block(["filler": String(repeating: "x", count: 700)])
        return [
            Case(name: "modules load, devices appear",
                 saw: Saw(config: "MODULES=virtio_blk\nWAIT_FOR=LABEL=root", failure: nil),
                 does: Does(outcome: .passed, changes: nil, reboot: false, says: "kernel 6.1.0-56-cloud-amd64: modules virtio_blk, devices LABEL=root: ok")),
            Case(name: "nothing guarded",
                 saw: Saw(config: "", failure: nil),
                 does: Does(outcome: .passed, changes: nil, reboot: false, says: "nothing to guard (MODULES and WAIT_FOR are empty)")),
            Case(name: "module missing, ON_FAILURE=continue",
                 saw: Saw(config: "MODULES=virtio_blk\nON_FAILURE=continue"),
                 does: Does(outcome: .gaveUp(.policyContinue), changes: nil, reboot: false, says: "ON_FAILURE=continue: not scheduling a fallback")),
            Case(name: "module missing, last good installed",
                 saw: Saw(grubenv: .block(["kmodguard_last_good": old.string])),
                 does: Does(outcome: .fallbackScheduled(old), changes: fallback(), reboot: true,
                            says: "scheduling fallback to 6.1.0-55-cloud-amd64 (last good): next_entry=\(oldPath), attempt 1 of 3")),
            Case(name: "module missing, no last good: newest with the modules",
                 saw: Saw(),
                 does: Does(outcome: .fallbackScheduled(old), changes: fallback(), reboot: true, says: "(newest with the modules)")),
            Case(name: "last good not installed: newest with the modules, said so",
                 saw: Saw(grubenv: .block(["kmodguard_last_good": "6.1.0-40-cloud-amd64"])),
                 does: Does(outcome: .fallbackScheduled(old), changes: fallback(), reboot: true,
                            says: "kmodguard_last_good 6.1.0-40-cloud-amd64 unusable: not installed")),
            Case(name: "device missing",
                 saw: Saw(config: "MODULES=virtio_blk\nWAIT_FOR=LABEL=root\nWAIT_TIMEOUT=2", failure: nil, missingDevices: ["LABEL=root"]),
                 does: Does(outcome: .fallbackScheduled(old), changes: fallback(reason: "device LABEL=root did not appear within 2s"),
                            reboot: true, says: "cannot reach its storage: device LABEL=root did not appear within 2s")),
            Case(name: "second fallback in a row",
                 saw: Saw(grubenv: .block(["kmodguard_attempts": "1"])),
                 does: Does(outcome: .fallbackScheduled(old), changes: fallback(attempt: 2), reboot: true, says: "attempt 2 of 3")),
            Case(name: "MAX_ATTEMPTS fallbacks already",
                 saw: Saw(grubenv: .block(["kmodguard_attempts": "3"])),
                 does: Does(outcome: .gaveUp(.attemptsExceeded(attempts: 3, limit: 3)), changes: nil, reboot: false,
                            says: "GIVING UP: 3 fallbacks in a row already (MAX_ATTEMPTS=3)")),
            Case(name: "no other kernel has the modules",
                 saw: Saw(oldTree: .unresolved(["virtio_blk"])),
                 does: Does(outcome: .gaveUp(.noCandidate), changes: nil, reboot: false,
                            says: "not a fallback: 6.1.0-55-cloud-amd64: modules not in its tree: virtio_blk")),
            Case(name: "trees invisible, old kernel not verified",
                 saw: Saw(oldTree: .notVisible(verified: false)),
                 does: Does(outcome: .gaveUp(.noCandidate), changes: nil, reboot: false,
                            says: "GIVING UP: no other installed kernel has the guarded modules")),
            Case(name: "trees invisible, old kernel verified",
                 saw: Saw(oldTree: .notVisible(verified: false), verified: [old]),
                 does: Does(outcome: .fallbackScheduled(old), changes: fallback(), reboot: true, says: "scheduling fallback")),
            Case(name: "trees invisible, old kernel is last good",
                 saw: Saw(grubenv: .block(["kmodguard_last_good": old.string]), oldTree: .notVisible(verified: false)),
                 does: Does(outcome: .fallbackScheduled(old), changes: fallback(), reboot: true, says: "(last good)")),
            Case(name: "crowded grubenv: the reason is dropped",
                 saw: crowded,
                 does: Does(outcome: .fallbackScheduled(old), changes: fallback(reason: nil), reboot: true, says: "scheduling fallback")),
            Case(name: "grubenv absent, GRUB trial",
                 saw: Saw(grubenv: .absent, commandLine: "ro kmodguard.boot=trial"),
                 does: Does(outcome: .grubenvUnreachable, changes: nil, reboot: true,
                            says: "grubenv /boot/grub/grubenv is not reachable: a reboot at once lets GRUB's trial counter boot the last good kernel")),
            Case(name: "grubenv absent, one-shot boot",
                 saw: Saw(grubenv: .absent, commandLine: "ro kmodguard.boot=once"),
                 does: Does(outcome: .grubenvUnreachable, changes: nil, reboot: true, says: "a one-shot next_entry boot")),
            Case(name: "grubenv absent, no trial",
                 saw: Saw(grubenv: .absent, commandLine: "ro kmodguard.boot="),
                 does: Does(outcome: .gaveUp(.rebootWouldRepeat(marker: "")), changes: nil, reboot: false,
                            says: "a reboot would boot this kernel again; not rebooting, the boot continues")),
            Case(name: "grubenv absent, command line unreadable",
                 saw: Saw(grubenv: .absent),
                 does: Does(outcome: .gaveUp(.rebootWouldRepeat(marker: nil)), changes: nil, reboot: false,
                            says: "cannot read the kernel command line")),
            Case(name: "BOOT_DEVICE cannot be mounted, GRUB trial",
                 saw: Saw(config: "MODULES=virtio_blk\nBOOT_DEVICE=LABEL=boot", grubenv: .mountFailed, commandLine: "kmodguard.boot=trial"),
                 does: Does(outcome: .grubenvUnreachable, changes: nil, reboot: true, says: "cannot mount BOOT_DEVICE LABEL=boot")),
            Case(name: "grubenv not a block, GRUB trial",
                 saw: Saw(grubenv: .notABlock, commandLine: "kmodguard.boot=trial"),
                 does: Does(outcome: .grubenvUnreachable, changes: nil, reboot: true, says: "is not a GRUB environment block")),
            Case(name: "grubenv write refused, GRUB trial",
                 saw: Saw(commandLine: "kmodguard.boot=trial", writeRefused: true),
                 does: Does(outcome: .grubenvUnreachable, changes: nil, reboot: true,
                            says: "grubenv /boot/grub/grubenv cannot be updated: a reboot at once")),
            Case(name: "grubenv write refused, no trial",
                 saw: Saw(writeRefused: true),
                 does: Does(outcome: .gaveUp(.rebootWouldRepeat(marker: nil)), changes: nil, reboot: false, says: "cannot write grubenv")),
        ]
    }()

    static func block(_ saw: Saw) throws -> GrubEnvBlock {
        var block = GrubEnvBlock()
        if case .block(let variables) = saw.grubenv {
            for (name, value) in variables.sorted(by: { $0.key < $1.key }) { try block.set(name, value) }
        }
        return block
    }

    static func observation(_ saw: Saw) throws -> GuardObservation {
        let config = try GuardConfig.parse(Array(saw.config.utf8), file: "kmodguard.conf")
        var seen = GuardObservation(kernel: new, config: config)
        seen.modules = config.modules.map { ModuleResult($0, saw.failure) }
        seen.missingDevices = config.waitFor.filter { saw.missingDevices.contains($0.description) }
        let error = SystemError(operation: "open", path: "x", errno: .noSuchFileOrDirectory, message: "No such file or directory")
        let lookup: GrubenvLookup
        switch saw.grubenv {
        case .absent: lookup = .absent(path: "/boot/grub/grubenv")
        case .mountFailed: lookup = .mountFailed(try #require(config.bootDevice), error)
        case .notABlock, .block:
            let bytes = if case .notABlock = saw.grubenv { Array("not a block".utf8) } else { try block(saw).bytes }
            lookup = .found(BootFiles(
                grubenvPath: "/boot/grub/grubenv", grubenv: .success(bytes), grubConfigPath: "/boot/grub/grub.cfg",
                menu: .success(GrubMenu(parsing: Array(EarlyGuardTests.grubConfig.utf8))), bootDirectory: "/boot",
                kernels: [InstalledKernel(release: old, hasImage: true, menuPath: nil, modules: saw.oldTree),
                          InstalledKernel(release: new, hasImage: true, menuPath: nil, modules: .unresolved(["virtio_blk"]))],
                verified: saw.verified))
        }
        seen.boot = BootObservation(grubenv: lookup, commandLine: saw.commandLine.map { .success(Array($0.utf8)) } ?? .failure(error),
                                    writeError: saw.writeRefused ? error : nil)
        return seen
    }

    @Test(arguments: cases)
    func plan(_ row: Case) throws {
        let plan = GuardPlanner.plan(try Self.observation(row.saw))
        #expect(!plan.needsBootFiles)
        #expect(plan.outcome == row.does.outcome)
        #expect(plan.grubenvUpdate?.changes == row.does.changes)
        #expect(plan.reboot == row.does.reboot)
        #expect(plan.log.contains { $0.text.contains(row.does.says) }, "\(plan.log.map(\.text))")
        if let update = plan.grubenvUpdate {
            #expect(update.path == "/boot/grub/grubenv")
            var expected = try Self.block(row.saw)
            try expected.apply(update.changes)
            #expect(update.block == expected)
        }
    }

    /// The happy path and ON_FAILURE=continue decide without grubenv; a fallback needs it.
    @Test(arguments: [("MODULES=virtio_blk", nil, true), ("MODULES=virtio_blk", ModuleLoadFailure.notFound, false),
                      ("MODULES=virtio_blk\nON_FAILURE=continue", .notFound, true)] as [(String, ModuleLoadFailure?, Bool)])
    func looksAtBootFilesOnlyForAFallback(config: String, failure: ModuleLoadFailure?, decided: Bool) throws {
        var seen = try Self.observation(Saw(config: config, failure: failure))
        seen.boot = nil
        #expect(GuardPlanner.plan(seen).needsBootFiles == !decided)
    }

    /// /dev/kmsg rate-limits: detail lines for the first three failed modules only; success lines
    /// only when there are at most three modules.
    @Test func detailLinesAreLimited() throws {
        var seen = try Self.observation(Saw(config: "MODULES=\"a b c d e\"", failure: .notFound))
        let failed = GuardPlanner.plan(seen).log.map(\.text)
        #expect(failed.filter { $0.hasPrefix("module ") } == ["module a: not found", "module b: not found", "module c: not found"])
        #expect(failed.contains("kernel 6.1.0-56-cloud-amd64 cannot reach its storage: a: not found, b: not found, c: not found, d: not found, e: not found"))
        seen.modules = seen.modules.map { ModuleResult($0.name) }
        #expect(!GuardPlanner.plan(seen).log.contains { $0.text.hasPrefix("module ") })
        seen = try Self.observation(Saw(config: "MODULES=\"a b\"", failure: nil))
        seen.dryRun = true
        #expect(GuardPlanner.plan(seen).log.map(\.text).prefix(2) == ["module a: resolves and matches 6.1.0-56-cloud-amd64",
                                                                       "module b: resolves and matches 6.1.0-56-cloud-amd64"])
    }

    /// The hooks' summary line: what `kmodguard-early --summary` prints for each exit.
    @Test(arguments: [
        (GuardExit.guarded(.passed), false, "kmodguard-early exit 0 after 0.17 s: ok; the boot continues", LogLevel.info),
        (.guarded(.fallbackScheduled(GuardPlannerTests.old)), true,
         "kmodguard-early exit 1 after 0.17 s: a fallback would be scheduled (dry run: grubenv unchanged, no reboot) [kmodguard.dry_run]; the boot continues",
         .warning),
        (.guarded(.fallbackScheduled(GuardPlannerTests.old)), false, "kmodguard-early exit 1 after 0.17 s: fallback scheduled, but the reboot failed; the boot continues", .error),
        (.guarded(.gaveUp(.noCandidate)), false,
         "kmodguard-early exit 2 after 0.17 s: the guarded modules failed and no fallback is possible (see above); the boot continues", .error),
        (.guarded(.grubenvUnreachable), true,
         "kmodguard-early exit 3 after 0.17 s: grubenv unreachable: would reboot at once (dry run: no reboot) [kmodguard.dry_run]; the boot continues",
         .warning),
        (.guarded(.grubenvUnreachable), false, "kmodguard-early exit 3 after 0.17 s: grubenv unreachable, and the reboot failed; the boot continues", .error),
        (.guarded(.configInvalid), false, "kmodguard-early exit 4 after 0.17 s: configuration missing or invalid: nothing checked; the boot continues", .error),
        (.usageError, false, "kmodguard-early exit 64 after 0.17 s: usage error: the hook and kmodguard-early do not match; the boot continues", .error),
    ] as [(GuardExit, Bool, String, LogLevel)])
    func summaryLine(exit: GuardExit, dryRun: Bool, line: String, level: LogLevel) {
        let summary = exit.summary(milliseconds: 172, dryRun: dryRun, noReboot: dryRun)
        #expect(summary.text == line)
        #expect(summary.level == level)
    }

    @Test func exitCodes() {
        #expect([GuardExit.guarded(.passed), .guarded(.fallbackScheduled(Self.old)), .guarded(.gaveUp(.noCandidate)),
                 .guarded(.grubenvUnreachable), .guarded(.configInvalid), .checked(passed: true), .checked(passed: false),
                 .usageError, .informed].map(\.code) == [0, 1, 2, 3, 4, 0, 1, 64, 0])
    }
}
