import KmodguardCompletion
package import KmodguardCore

/// The decisions and side effects of one `kmodguard complete`, computed from a snapshot. The
/// per-kernel work goes through `CompletionSteps`; grubenv and state changes are returned for the
/// command to write, so an interrupted run changes nothing it had not finished.
package struct CompletionRun<Steps: CompletionSteps> {
    package var steps: Steps
    package let snapshot: SystemSnapshot
    package var state: PersistentState
    package var grubChanges: [GrubChange] = []
    package var messages: [String] = []
    /// Called with each message as it is said, so a long build is not a silent service.
    package var onMessage: (String) -> Void = { _ in }
    package var failures = 0
    /// Set when ACTIVATE=reboot chose a kernel to boot now.
    package var rebootInto: KernelRelease?
    package let now: String

    package init(steps: Steps, snapshot: SystemSnapshot, state: PersistentState, now: String) {
        self.steps = steps
        self.snapshot = snapshot
        self.state = state
        self.now = now
    }

    package mutating func perform() {
        let grub = snapshot.grub
        let guardPassed = snapshot.guardPassed
        // Once per boot: a later run in the same boot (a kernel hook while the service runs, the
        // retry timer) would read the trial the first run armed for the coming reboot as one that
        // did not start, and disarm it.
        let firstRunThisBoot = snapshot.bootID == nil || state.bootRecorded != snapshot.bootID
        let bookkeeping = firstRunThisBoot
            ? BootBookkeeping.make(running: snapshot.running, guardPassed: guardPassed, runningEntry: snapshot.runningEntry,
                                   grub: grub, grubCanSave: snapshot.grubCanSave)
            : BootBookkeeping()
        state.bootRecorded = snapshot.bootID
        grubChanges += bookkeeping.changes
        for note in bookkeeping.notes { say(note) }
        for event in bookkeeping.events {
            state.append(.init(source: event.source.rawValue, failedKernel: event.failedKernel?.string, reason: event.reason, recorded: now))
            say("recorded fallback: " + (event.failedKernel?.string ?? "?") + ": " + event.reason)
        }
        if guardPassed && firstRunThisBoot { say("kernel " + snapshot.running.string + " booted with its driver: recorded as last good") }
        // A kernel that just failed to boot stays pinned away until something changes, even
        // when its module tree looks complete (the device may not have appeared).
        let failedToBoot = Set(bookkeeping.events.compactMap(\.failedKernel))

        guard !snapshot.config.modules.isEmpty else {
            say("nothing guarded: MODULES is empty in " + snapshot.root.config)
            return
        }
        // The driver's identity may cost a download (the database's index): only a kernel that
        // lacks its driver, or whose initramfs predates it, needs the fingerprint. A machine
        // with every driver in place does not touch the network (nor wait for a database that
        // is down) on each boot or timer run.
        let needsFingerprint = snapshot.kernels.contains { !snapshot.hasDriver($0) } || !snapshot.staleInitramfs.isEmpty
        let fingerprint = needsFingerprint
            ? retryFingerprint(kernels: snapshot.kernels, driver: steps.driverFingerprint(), config: snapshot.configBytes) : ""
        let decisions = CompletionPlanner.decisions(
            kernels: snapshot.kernels.map { release in
                let record = state.kernels[release.string]
                let failed = record.flatMap { CompletionPlanner.failedFingerprint(state: $0.state, fingerprint: $0.fingerprint) }
                return (release, snapshot.availability[release] ?? .unresolved(snapshot.config.modules), failed)
            },
            fingerprint: fingerprint)

        var nowHasDriver = Set(snapshot.kernels.filter { snapshot.hasDriver($0) })
        var builtNow: Set<KernelRelease> = []
        // A stale initramfs is handled below: rebuilding it is the change that earns another boot.
        var defaultFailed = snapshot.defaultKernel.map {
            failedToBoot.contains($0) && snapshot.hasDriver($0) && !snapshot.staleInitramfs.contains($0)
        } ?? false
        for (kernel, decision) in decisions {
            switch decision {
            case .hasDriver:
                guard snapshot.staleInitramfs.contains(kernel) else { continue }
                if refreshInitramfs(kernel, fingerprint: fingerprint) {
                    builtNow.insert(kernel)
                } else if kernel == snapshot.defaultKernel {
                    defaultFailed = true
                }
            case .failedUnchanged:
                say(kernel.string + ": failed before and nothing changed since; not retrying ("
                    + (state.kernels[kernel.string]?.firstError ?? state.kernels[kernel.string]?.message ?? "see status") + ")")
                if kernel == snapshot.defaultKernel { defaultFailed = true }
            case .build:
                if complete(kernel, fingerprint: fingerprint) {
                    nowHasDriver.insert(kernel)
                    builtNow.insert(kernel)
                } else if kernel == snapshot.defaultKernel {
                    defaultFailed = true
                }
            }
        }

        if defaultFailed {
            let pin = CompletionPlanner.pin(running: snapshot.running, guardPassed: guardPassed, runningEntry: snapshot.runningEntry, grub: grub)
            if pin.isEmpty {
                say("cannot pin a working kernel: no GRUB entry known for one")
            } else if grub.pin != pin.first?.value {
                grubChanges += pin
                say("pinned " + (pin.first?.value ?? "") + " until the driver builds for " + (snapshot.defaultKernel?.string ?? "the default kernel"))
            }
            return
        }
        let defaultKernel = snapshot.defaultKernel
        // Only a kernel that just got its driver is activated: one that had it all along was the
        // user's or GRUB's choice not to boot.
        let activation = CompletionPlanner.activation(
            policy: snapshot.config.activate, running: snapshot.running, defaultKernel: defaultKernel,
            defaultEntry: defaultKernel.flatMap { snapshot.menu.entry(for: $0)?.path },
            defaultHasDriver: defaultKernel.map { builtNow.contains($0) } ?? false,
            guardPassed: guardPassed, runningEntry: snapshot.runningEntry)
        switch activation {
        case .reboot(let kernel, let changes):
            grubChanges += changes
            rebootInto = kernel
            say("activating " + kernel.string + ": next_entry set, trial armed, rebooting (ACTIVATE=reboot)")
        case .nextBoot(let kernel, let changes):
            grubChanges += changes
            say(kernel.string + " boots on the next reboot (ACTIVATE=next-boot); trial armed")
        case .none:
            if grub.pin != nil, let defaultKernel, nowHasDriver.contains(defaultKernel) {
                grubChanges.append(.unset(KmodguardVariable.pin))
                say("driver present for " + defaultKernel.string + ": pin cleared")
            }
            if CompletionPlanner.needsTrial(defaultKernel: defaultKernel, lastGood: guardPassed ? snapshot.running : grub.lastGood,
                                            running: snapshot.running, guardPassed: guardPassed, grub: grub),
               let defaultKernel, nowHasDriver.contains(defaultKernel) {
                grubChanges += CompletionPlanner.trial(for: defaultKernel, goodEntry: guardPassed ? snapshot.runningEntry : nil)
                say("armed GRUB's trial counter for " + defaultKernel.string)
            }
        }
    }

    /// Driver, then initramfs, for one kernel; records the result. True when it has its driver now.
    package mutating func complete(_ kernel: KernelRelease, fingerprint: String) -> Bool {
        say(kernel.string + ": driver missing; building")
        var record = PersistentState.KernelRecord(state: "failed", fingerprint: fingerprint, driver: steps.driverIdentity(),
                                                  firstError: nil, log: nil, message: nil, updated: now)
        defer { state.kernels[kernel.string] = record }
        switch steps.obtainDriver(for: kernel) {
        case .excluded(let why):
            record.state = "excluded"
            record.message = why
            say(kernel.string + ": skipped: " + why)
            failures += 1
            return false
        case .headersMissing(let package):
            record.state = "headers-missing"
            record.message = "kernel headers missing: apt-get install " + package
            say(kernel.string + ": " + (record.message ?? ""))
            failures += 1
            return false
        case .failed(let message, let firstError, let log):
            record.message = message
            record.firstError = firstError
            record.log = log
            say(kernel.string + ": build failed: " + (firstError ?? message) + (log.map { " (log: " + $0 + ")" } ?? ""))
            failures += 1
            return false
        case .refused(let message):
            record.message = "driver database: " + message + "; nothing installed"
            say(kernel.string + ": no driver from the database: " + message)
            failures += 1
            return false
        case .unavailable(let message):
            record.state = CompletionPlanner.downloadFailedState
            record.message = "driver database: " + message + "; nothing installed, retried on the next run"
            say(kernel.string + ": no driver from the database, retrying on the next run: " + message)
            failures += 1
            return false
        case .installed(let driver, let modules):
            record.state = "installed"
            record.driver = driver
            say(kernel.string + ": installed " + modules.joined(separator: " "))
        }
        return rebuildInitramfs(kernel, record: &record)
    }

    /// Rebuilds and verifies `kernel`'s initramfs, recording the outcome. True when the image
    /// holds the driver (or the generator is not kmodguard's to run).
    package mutating func rebuildInitramfs(_ kernel: KernelRelease, record: inout PersistentState.KernelRecord) -> Bool {
        switch steps.rebuildInitramfs(for: kernel, modules: snapshot.config.modules) {
        case .verified(let image):
            record.state = "initramfs"
            record.message = nil
            say(kernel.string + ": initramfs " + image + " rebuilt and verified")
            return true
        case .skipped(let why):
            say(kernel.string + ": initramfs not rebuilt: " + why)
            return true
        case .failed(let message, let log):
            record.state = "failed"
            record.message = "initramfs: " + message
            record.log = log
            say(kernel.string + ": initramfs rebuild failed, the old image is kept: " + message)
            failures += 1
            return false
        }
    }

    /// The driver is installed but the initramfs predates it (an interrupted run): rebuild and
    /// verify the image only. True when the image now holds the driver.
    package mutating func refreshInitramfs(_ kernel: KernelRelease, fingerprint: String) -> Bool {
        say(kernel.string + ": driver installed, but the initramfs is older than it (an earlier rebuild was interrupted or failed); rebuilding the initramfs")
        var record = state.kernels[kernel.string] ?? PersistentState.KernelRecord(
            state: "installed", fingerprint: fingerprint, driver: steps.driverIdentity(), firstError: nil, log: nil, message: nil, updated: now)
        record.updated = now
        // A failure is retried only when something changes, like a failed build.
        record.fingerprint = fingerprint
        defer { state.kernels[kernel.string] = record }
        return rebuildInitramfs(kernel, record: &record)
    }

    package mutating func say(_ message: String) {
        messages.append(message)
        onMessage(message)
    }
}
