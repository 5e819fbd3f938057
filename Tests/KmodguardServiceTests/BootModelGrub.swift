import KmodguardCompletion
import KmodguardCore

/// GRUB in the boot-state model: Debian's `00_header` (load_env, next_entry) followed by
/// `grub.d/01_kmodguard`'s GRUB code, as a pure function of grubenv. Each rule names the lines of
/// the snippet it mirrors; `scripts/test-grub` checks the same rules on the real GRUB 2.06 (its
/// table is in docs/grub.md), so a change to the snippet must change both.
enum BootModelGrub {
    /// What one GRUB run does.
    struct Run: Equatable {
        /// grubenv after each `save_env` that reached the disk, in order (00_header's clearing of
        /// next_entry, then the snippet's). Empty when GRUB wrote nothing.
        var writes: [[String: String]] = []
        /// The menu path (or "0") GRUB boots.
        var defaultEntry: String
        /// `kmodguard_boot`, exported to the entry and put on the kernel command line as
        /// `kmodguard.boot=${kmodguard_boot}` by /etc/default/grub.d/kmodguard.cfg.
        var marker: String?
    }

    /// What `01_kmodguard` found when update-grub ran it, pasted into grub.cfg.
    struct Generated: Equatable {
        /// The kernel entry 0 boots (the newest) and whether its driver worked then.
        var defaultKernel: String
        var defaultPath: String
        var defaultVerified: Bool
        /// The newest other kernel whose driver worked then, as a full menu path.
        var goodPath: String?
    }

    /// - Parameters:
    ///   - env: grubenv as GRUB's `load_env` reads it.
    ///   - canSave: whether `save_env` works here (not on md RAID, LVM, btrfs, ZFS).
    ///   - generated: the generation-time facts.
    static func boot(env: [String: String], canSave: Bool, generated: Generated) -> Run {
        var memory = env
        var run = Run(defaultEntry: "0")
        func save(_ names: [String]) -> Bool {
            guard canSave else { return false }
            var disk = run.writes.last ?? env
            for name in names { disk[name] = memory[name].flatMap { $0.isEmpty ? nil : $0 } }
            run.writes.append(disk)
            return true
        }
        func value(_ name: String) -> String { memory[name] ?? "" }

        // 00_header: `if [ "${next_entry}" ] ; then set default="${next_entry}"; set next_entry=;
        // save_env next_entry; set boot_once=true; else set default="0"; fi`
        var bootOnce = false
        if !value("next_entry").isEmpty {
            run.defaultEntry = value("next_entry")
            memory["next_entry"] = nil
            _ = save(["next_entry"])
            bootOnce = true
        }

        // 01_kmodguard: `set kmodguard_boot=`; the generated `if [ -z "${kmodguard_good_entry}" ];
        // then set kmodguard_good_entry="<newest other verified kernel>"` (memory only).
        run.marker = ""
        if value(KmodguardVariable.goodEntry).isEmpty, let goodPath = generated.goodPath {
            memory[KmodguardVariable.goodEntry] = goodPath
        }
        // `if [ -n "${boot_once}" ]; then load_env next_entry; if [ -z "${next_entry}" ]; then
        //  set kmodguard_boot=once`: did 00_header's clearing reach the disk?
        if bootOnce {
            if (run.writes.last ?? env)["next_entry"] == nil { run.marker = "once" }
            return run
        }
        let good = value(KmodguardVariable.goodEntry)
        if !value(KmodguardVariable.pin).isEmpty {
            // `if [ -n "${kmodguard_pin}" ]; then set default="${kmodguard_pin}" ... set kmodguard_boot=pin`
            run.defaultEntry = value(KmodguardVariable.pin)
            run.marker = "pin"
        } else if value(KmodguardVariable.trial) == "armed" {
            // `set kmodguard_trial=consumed; if save_env kmodguard_trial; then
            //    if [ -n "${kmodguard_good_entry}" ]; then set kmodguard_boot=trial; fi
            //  elif [ -n "${kmodguard_good_entry}" ]; then set default="${kmodguard_good_entry}" ...
            //    set kmodguard_boot=fallback`
            memory[KmodguardVariable.trial] = "consumed"
            if save([KmodguardVariable.trial]) {
                if !good.isEmpty { run.marker = "trial" }
            } else if !good.isEmpty {
                run.defaultEntry = good
                run.marker = "fallback"
            }
        } else if value(KmodguardVariable.trial) == "consumed" {
            // `if [ -n "${kmodguard_good_entry}" ]; then set default=...; set kmodguard_trial=failed;
            //  set kmodguard_grub_fallback=...; save_env kmodguard_trial kmodguard_grub_fallback;
            //  set kmodguard_boot=fallback`
            if !good.isEmpty {
                run.defaultEntry = good
                memory[KmodguardVariable.trial] = "failed"
                memory[KmodguardVariable.grubFallback] = good
                _ = save([KmodguardVariable.trial, KmodguardVariable.grubFallback])
                run.marker = "fallback"
            }
        } else if value(KmodguardVariable.trial) == "failed" {
            // `if [ -n "${kmodguard_good_entry}" ]; then set default="${kmodguard_good_entry}" ...
            //  set kmodguard_boot=fallback`
            if !good.isEmpty {
                run.defaultEntry = good
                run.marker = "fallback"
            }
        } else if !generated.defaultVerified, value(KmodguardVariable.trial).isEmpty, !good.isEmpty,
                  value(KmodguardVariable.lastGood) != generated.defaultKernel,
                  ["", "0", "gnulinux-simple-" + BootModel.uuid, generated.defaultPath].contains(run.defaultEntry) {
            // The automatic trial, generated only when entry 0's kernel was not verified:
            // `elif [ -z "${kmodguard_trial}" ]; then ... set kmodguard_trial=consumed;
            //  set kmodguard_trial_kernel="<kernel>"; if save_env kmodguard_trial kmodguard_trial_kernel;
            //  then set kmodguard_boot=trial; else set default="${kmodguard_good_entry}" ...
            //  set kmodguard_boot=fallback`
            memory[KmodguardVariable.trial] = "consumed"
            memory[KmodguardVariable.trialKernel] = generated.defaultKernel
            if save([KmodguardVariable.trial, KmodguardVariable.trialKernel]) {
                run.marker = "trial"
            } else {
                run.defaultEntry = good
                run.marker = "fallback"
            }
        }
        return run
    }
}
