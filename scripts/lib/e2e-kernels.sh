# shellcheck shell=sh
# Variables set here are read by scripts/e2e and e2e-scenarios.sh:
# shellcheck disable=SC2034
# e2e-kernels.sh - issue 13's scenarios where the user's kernel package work meets kmodguard's.
# Source after e2e-proactive.sh (the third kernel's packages, the install boot).
#
#   kernel-removed-while-pinned  the new kernel is excluded by the driver (dkms.conf
#                                BUILD_EXCLUSIVE_KERNEL), so the old one is pinned; the user
#                                installs a third kernel (its hook builds the driver) and removes
#                                the pinned kernel's package: the pin moves to the third kernel,
#                                which boots next, never a gone entry or the failing default
#   apt-during-complete          while the completion service builds the new kernel's driver,
#                                dpkg installs a third kernel: its hook waits for the service,
#                                each kernel is built once, the service does not reboot before
#                                dpkg has finished, and the next boot is the new kernel
#
# In the guest, Tests/Fixtures/e2e-kernels/e2e-kernels does the package work (dpkg, no network).

E2E_ALL_SCENARIOS="$E2E_ALL_SCENARIOS kernel-removed-while-pinned apt-during-complete"

# _e2e_kernels_prepare MODE AFTER: onto the run's root filesystem: the third kernel's packages
# (with headers), the step script and its unit (started after AFTER), the mode, the release to
# remove (the old kernel's), the shutdown check's console drop-in. Sets K3, P_K3.
_e2e_kernels_prepare() {
	K3=$E2E_K3
	case $K3 in "$K_OLD" | "$K_NEW") die "E2E_K3 must differ from both image kernels ($K_OLD, $K_NEW)" ;; esac
	P_K3=$(printf '%s\n' "$P_OLD" | sed "s/>gnulinux-$K_OLD-advanced-/>gnulinux-$K3-advanced-/")
	E2E_INSTALL_MARK=E2E-KERNELS
	_ekp_fx=$E2E_RUN/kernels-fixture
	mkdir -p "$_ekp_fx"
	cp "$E2E_REPO/Tests/Fixtures/e2e-kernels/e2e-kernels" "$_ekp_fx/"
	sed "s/@AFTER@/$2/" "$E2E_REPO/Tests/Fixtures/e2e-kernels/e2e-kernels.service" >"$_ekp_fx/e2e-kernels.service"
	printf '%s\n' "$1" >"$E2E_RUN/kernels-mode"
	printf '%s\n' "$K_OLD" >"$E2E_RUN/kernels-remove"
	{
		_e2e_k3_commands 1 /var/cache/e2e-kernels
		echo "write $E2E_RUN/kernels-mode /var/cache/e2e-kernels/mode"
		echo "write $E2E_RUN/kernels-remove /var/cache/e2e-kernels/remove"
		_e2e_debugfs_unit e2e-kernels "$_ekp_fx"
		echo "mkdir /etc/systemd/system/kmodguard-shutdown.service.d"
		echo "write $E2E_REPO/Tests/Fixtures/e2e-proactive/shutdown-console.conf /etc/systemd/system/kmodguard-shutdown.service.d/e2e.conf"
	} >"$E2E_RUN/debugfs.cmd"
	debugfs -w -f "$E2E_RUN/debugfs.cmd" "$E2E_FS_ROOT" >"$E2E_RUN/debugfs.log" 2>&1
	_e2e_k3_written /var/cache/e2e-kernels e2e-kernels /var/cache/e2e-kernels/mode /var/cache/e2e-kernels/remove
}

# _e2e_exclude_new_kernel: the driver source on the run's disk builds only for the old kernel
# and the third one (dkms.conf BUILD_EXCLUSIVE_KERNEL), as a vendor driver that does not support
# a kernel yet says.
_e2e_exclude_new_kernel() {
	_eenk_conf=/usr/src/$E2E_DRIVER_NAME/dkms.conf
	e2e_root_cat "$_eenk_conf" >"$E2E_RUN/dkms.conf"
	[ -s "$E2E_RUN/dkms.conf" ] || die "no $_eenk_conf on the disk"
	printf "BUILD_EXCLUSIVE_KERNEL='^(%s|%s)\$'\n" "$(printf '%s' "$K_OLD" | sed 's/\./\\./g')" \
		"$(printf '%s' "$K3" | sed 's/\./\\./g')" >>"$E2E_RUN/dkms.conf"
	printf 'rm %s\nwrite %s %s\n' "$_eenk_conf" "$E2E_RUN/dkms.conf" "$_eenk_conf" >"$E2E_RUN/debugfs.cmd"
	debugfs -w -f "$E2E_RUN/debugfs.cmd" "$E2E_FS_ROOT" >/dev/null 2>&1
	e2e_root_cat "$_eenk_conf" | grep -q '^BUILD_EXCLUSIVE_KERNEL=' || die "could not change $_eenk_conf on the disk"
	printf 'before boot 1: dkms.conf: %s\n' "$(tail -n 1 "$E2E_RUN/dkms.conf")" >>"$E2E_RUN/timeline"
}

# between_marks BEGIN END REGEX: a console line between E2E-KERNELS BEGIN and END matches REGEX.
between_marks() {
	e2e_console_lines '.' | sed -n "/E2E-KERNELS $1/,/E2E-KERNELS $2/p" | grep -a -E -q -e "$3" && return 0
	printf 'no line matching %s between E2E-KERNELS %s and %s; kmodguard lines there:\n' "$3" "$1" "$2"
	e2e_console_lines '.' | sed -n "/E2E-KERNELS $1/,/E2E-KERNELS $2/p" | grep -a kmodguard
	return 1
}

# console_count REGEX N: this boot's console has N lines matching REGEX.
console_count() {
	expect "console lines matching $1" "$(e2e_console_lines "$1" | wc -l | tr -d ' ')" "$2"
}

# console_before A B: the first console line matching A comes before the first matching B.
console_before() {
	_ecb_a=$(e2e_console_lines '.' | grep -a -n -E -e "$1" | head -n 1 | cut -d: -f1)
	_ecb_b=$(e2e_console_lines '.' | grep -a -n -E -e "$2" | head -n 1 | cut -d: -f1)
	[ -n "$_ecb_a" ] && [ -n "$_ecb_b" ] && [ "$_ecb_a" -lt "$_ecb_b" ] && return 0
	printf 'console: first "%s" at line %s, first "%s" at line %s\n' "$1" "${_ecb_a:-none}" "$2" "${_ecb_b:-none}"
	return 1
}

# state_is FILTER WANT: jq FILTER on /var/lib/kmodguard/state.json on the disk.
state_is() {
	e2e_root_cat /var/lib/kmodguard/state.json >"$WORK/state.json"
	expect "state.json $1" "$(jq -c "$1" "$WORK/state.json" 2>&1)" "$2"
}

e2e_scenario_kernel_removed_while_pinned() {
	_e2e_guarded_run
	_e2e_kernels_prepare remove-pinned kmodguard-complete.service
	_e2e_exclude_new_kernel
	_e2e_boot_guard_falls_back || return 0

	# Boot 2: the old kernel; the new one is excluded, the old one pinned. Then the user installs
	# the third kernel and removes the pinned (running) kernel's package.
	_e2e_install_boot
	check "boot $BOOT_N: the old kernel boots to the end (no reboot)" boot_is "$K_OLD" poweroff
	check "boot $BOOT_N: complete: the driver excludes the new kernel" console "$K_NEW: skipped: BUILD_EXCLUSIVE_KERNEL="
	check "boot $BOOT_N: complete pins the old kernel" console "pinned $P_OLD"
	check "boot $BOOT_N: dpkg installed $K3 (exit 0)" console "E2E-KERNELS install-end dpkg-exit=0"
	check "boot $BOOT_N: $K3's hook built and installed virtio_blk" install_console "\[kmodguard\] $K3: installed virtio_blk"
	check "boot $BOOT_N: $K3's initramfs rebuilt and verified" install_console "\[kmodguard\] $K3: initramfs .* rebuilt and verified"
	check "boot $BOOT_N: dpkg removed the pinned kernel's package (exit 0)" console "E2E-KERNELS remove-end dpkg-exit=0"
	check "boot $BOOT_N: kernel-removed moved the pin to $K3" \
		between_marks remove-begin remove-end "kernel $K_OLD removed: .*kmodguard_pin=$P_K3"
	check "boot $BOOT_N: the shutdown check pinned nothing else" no_console 'next boot would pick .* without its driver'
	check "disk: grub.cfg has no entry for the removed kernel" \
		eval "! grubcfg_has \"menuentry_id_option 'gnulinux-$K_OLD-advanced-\""
	check "disk: grubenv kmodguard_pin = $K3's full path" env_is kmodguard_pin "$P_K3"
	check "disk: the pin names an entry of grub.cfg" grubcfg_has "menuentry_id_option '${P_K3#*>}'"
	check "disk: no kmodguard variable names the removed kernel" \
		eval "! grub-editenv '$E2E_GRUBENV' list | grep -e '$K_OLD'"
	check "disk: no next_entry" env_empty next_entry
	boot_ended poweroff || return 0

	# Boot 3 (powered on again): GRUB's pin, the third kernel, to the end.
	e2e_boot
	check "boot $BOOT_N: GRUB boots $K3 (the pin), to the end" boot_is "$K3" poweroff
	check "boot $BOOT_N: guard passes on $K3" console "kmodguard: kernel $K3: .*: ok"
	check "boot $BOOT_N: no fallback, no guard reboot" no_console 'kmodguard: (scheduling fallback|GIVING UP)|rebooting now'
	check "boot $BOOT_N: report written" e2e_report_complete
	check "boot $BOOT_N: virtio_blk from updates/kmodguard" \
		report_is virtio_blk_file "/lib/modules/$K3/updates/kmodguard/virtio_blk.ko"
	check "boot $BOOT_N: status --json: pinned to $K3" json_is .pin "\"$P_K3\""
	check "boot $BOOT_N: status --json: the new kernel excluded, $K3 installed, the old one gone" \
		json_is '[.kernels[] | [.release, .driver]]' "[[\"$K_NEW\",\"excluded\"],[\"$K3\",\"installed\"]]"
	check "boot $BOOT_N: grubenv last good = $K3" env_is kmodguard_last_good "$K3"
	check "3 boots; the new kernel booted once" \
		expect "boots, new kernel boots" "$E2E_BOOTS $(grep -c '^boot [0-9]*: K_NEW' "$E2E_RUN/timeline")" "3 1"
}

e2e_scenario_apt_during_complete() {
	_e2e_guarded_run
	_e2e_kernels_prepare during-complete local-fs.target
	_e2e_boot_guard_falls_back || return 0

	# Boot 2: the service builds the new kernel's driver; dpkg installs K3 meanwhile.
	_e2e_install_boot
	check "boot $BOOT_N: the old kernel boots, complete reboots in the end" boot_is "$K_OLD" reboot
	check "boot $BOOT_N: dpkg started while the service's build ran" console "E2E-KERNELS make-seen pid=[0-9]"
	check "boot $BOOT_N: dpkg installed $K3 (exit 0)" console "E2E-KERNELS install-end dpkg-exit=0"
	check "boot $BOOT_N: the new kernel's driver built once" console_count "$K_NEW: driver missing; building" 1
	check "boot $BOOT_N: $K3's driver built once (by its hook)" console_count "$K3: driver missing; building" 1
	check "boot $BOOT_N: $K3's hook built it" install_console "\[kmodguard\] $K3: installed virtio_blk"
	check "boot $BOOT_N: both initramfs images rebuilt and verified" \
		eval "console '$K_NEW: initramfs .* rebuilt and verified' && install_console '$K3: initramfs .* rebuilt and verified'"
	check "boot $BOOT_N: the service waited for dpkg before rebooting" \
		console "waiting for the package manager \(pid [0-9]+\) to finish before rebooting"
	check "boot $BOOT_N: the reboot came after dpkg had finished" \
		console_before "E2E-KERNELS install-end" "rebooting into $K_NEW"
	if e2e_console_has "waiting for another kmodguard run"; then
		printf '    boot %s: the kernel hook waited for the service (state lock)\n' "$BOOT_N" >>"$E2E_RUN/timeline"
	else
		printf '    boot %s: the service had finished its work before the hook ran (no wait for the state lock)\n' \
			"$BOOT_N" >>"$E2E_RUN/timeline"
	fi
	check "disk: state.json: both kernels' driver and initramfs done" \
		state_is "[.kernels[\"$K_NEW\"].state, .kernels[\"$K3\"].state]" '["initramfs","initramfs"]'
	check "disk: virtio_blk.ko for the new kernel and $K3" \
		eval "root_has /lib/modules/$K_NEW/updates/kmodguard/virtio_blk.ko && root_has /lib/modules/$K3/updates/kmodguard/virtio_blk.ko"
	check "disk: $K3's initramfs holds virtio_blk.ko" initramfs_has "$K3" 'updates/kmodguard/virtio_blk\.ko'
	check "disk: the new kernel's initramfs holds virtio_blk.ko" initramfs_has "$K_NEW" 'updates/kmodguard/virtio_blk\.ko'
	check "boot $BOOT_N: grubenv valid, next_entry = the new kernel" eval "grubenv_valid >/dev/null && env_is next_entry '$P_NEW'"
	# The hook's run came after the service had armed the trial: it must leave it armed.
	check "boot $BOOT_N: grubenv trial still armed for the new kernel (the hook's run did not disarm it)" \
		expect trial "$(e2e_env kmodguard_trial) $(e2e_env kmodguard_trial_kernel)" "armed $K_NEW"
	check "boot $BOOT_N: the hook's run recorded no fallback of its own" no_console "was not started: GRUB could not save_env"
	boot_ended reboot || return 0

	e2e_boot
	_e2e_new_kernel_works
	check "3 boots; the new kernel booted twice: once without its driver (boot 1), then with it" \
		expect "boots, new kernel boots" "$E2E_BOOTS $(grep -c '^boot [0-9]*: K_NEW' "$E2E_RUN/timeline")" "3 2"
}
