# shellcheck shell=sh
# Variables set here are read by scripts/e2e:
# shellcheck disable=SC2034
# e2e-scenarios.sh - the scenarios of scripts/e2e and their assertions. Source after common.sh,
# e2e-image.sh and e2e-boot.sh. Every assertion reads what the guest left behind: its serial
# console, its end-of-boot report (ttyS1) and the disk image (grubenv, files, the initramfs),
# never only the harness's own bookkeeping.

E2E_ALL_SCENARIOS="control main main-database database-down compile-error fallback-broken power-cut-guard power-cut-build power-cut-initramfs power-cut-install two-modules unarmed-single config-broken boot-full"

# e2e_not_applicable SCENARIO LAYOUT: why SCENARIO cannot run in LAYOUT; nothing when it can.
e2e_not_applicable() {
	case $1:$2 in
	power-cut-guard:single) echo "the guard cannot reach grubenv there: it writes nothing to cut" ;;
	unarmed-single:split) echo "the guard writes grubenv there" ;;
	boot-full:single) echo "/boot is not a filesystem of its own there" ;;
	grubenv-grub-readonly:single) echo "it moves the split layout's /boot disk to md RAID1" ;;
	esac
}

# e2e_all_cells SCENARIO: the "GENERATOR LAYOUT" cells `scripts/e2e --all` runs SCENARIO in,
# one a line: every cell where what it tests differs, one where it does not. The layout changes
# how the guard falls back (grubenv written, or GRUB's trial); the generator changes what the
# initramfs holds and when the guard runs. The post-boot service's own logic (the database, a
# failed build, power cuts outside the initramfs rebuild, kernel packages, a full /boot) is the
# same in every cell: initramfs-tools on the split layout.
e2e_all_cells() {
	case $1 in
	control | main)
		printf '%s\n' "initramfs-tools split" "initramfs-tools single" "dracut split" "dracut single" ;;
	unarmed-single) printf '%s\n' "initramfs-tools single" "dracut single" ;;
	two-modules | config-broken | fallback-broken | power-cut-guard | power-cut-initramfs | proactive | package | grubenv-grub-readonly)
		printf '%s\n' "initramfs-tools split" "dracut split" ;;
	*) echo "initramfs-tools split" ;;
	esac
}

e2e_scenario_doc() {
	case $1 in
	main) echo "new kernel lacks its driver: guard -> fallback -> rebuild (SOURCE tree) -> new kernel boots (3 boots)" ;;
	main-database) echo "main, with the driver source from the signed database over HTTP (guestfwd) (3 boots)" ;;
	database-down) echo "database unreachable: stays on the old kernel, pinned; once it is back, completes (4 boots)" ;;
	control) echo "the same image without kmodguard: the new kernel must not find its root (1 boot)" ;;
	fallback-broken) echo "the fallback kernel cannot boot either: one guard fallback, then GRUB keeps the good entry and its guard gives up without a reboot (4 boots)" ;;
	compile-error) echo "the driver source does not compile: stays on the old kernel, pinned, no loop (4 boots)" ;;
	power-cut-guard) echo "power cut during the guard's grubenv write (split): grubenv whole, the next boots end on a working kernel" ;;
	power-cut-build) echo "power cut during the driver build: the next boots still end on a working kernel" ;;
	power-cut-install) echo "power cut while the built module is installed (depmod after the copy): the next boots still end on a working kernel" ;;
	power-cut-initramfs) echo "power cut during the initramfs rebuild: the next boots still end on a working kernel" ;;
	proactive) echo "a third kernel + headers installed in the guest: its driver built by the kernel hook, it boots without fallback (5 boots)" ;;
	database-flaky) echo "the archive answers 500 for one whole run, then the server is healthy: retried on the next run, completes (4 boots)" ;;
	database-tampered) echo "an index signed by an untrusted key, then an archive with one byte changed: pinned, nothing extracted; a good publication completes (5 boots)" ;;
	unarmed-single) echo "single layout, installed as README says on a machine whose newest kernel lacks its driver, nothing set by hand: GRUB's automatic trial, one fallback, no loop (3 boots)" ;;
	config-broken) echo "a syntax error in kmodguard.conf after the images were built: every boot completes, the error names file and line, no loop (3 boots)" ;;
	two-modules) echo "MODULES names dm_mod (in-tree) and virtio_blk (missing for the new kernel): only virtio_blk is built (3 boots)" ;;
	boot-full) echo "/boot without room for the new initramfs: refused before the generator runs, old image intact, pinned, status says bytes needed and free; room made, completes (4 boots)" ;;
	kernel-removed-while-pinned) echo "the new kernel excluded by the driver, the old one pinned; a third kernel installed, the pinned kernel's package removed: the pin moves to the third kernel, which boots (3 boots)" ;;
	apt-during-complete) echo "dpkg installs a third kernel while the service builds: one build per kernel, the hook waits, no reboot before dpkg ends (3 boots)" ;;
	package) echo "apt-get install the .deb on the running control image, the story, apt-get purge: the older kernel boots exactly as before (4 boots)" ;;
	grubenv-grub-readonly) echo "split: the guest moves /boot to md RAID1 on two new NVMe disks (GRUB cannot save_env there): the bad kernel never boots, the rebuilt one is reached and blessed, no stale next_entry; then a run-time driver failure falls back through md (6 boots)" ;;
	proactive-no-headers) echo "a third kernel without headers: the hook cannot build, the shutdown check pins the good kernel (5 boots)" ;;
	esac
}

# ---------------------------------------------------------------------------------------------
# kmodguard's binaries for the guest.
# ---------------------------------------------------------------------------------------------

# e2e_package DIR: kmodguard as the guests get it: DIR/kmodguard.deb, a copy of scripts/package's
# .deb (others may rebuild out/ while a run takes its time), and DIR/root, that package unpacked
# (the host runs DIR/root/usr/sbin/kmodguard for keygen and publish). The guests install it with
# apt-get; they have no Swift toolchain, and scripts/build checks that out/kmodguard needs none.
# KMODGUARD_E2E_NO_BUILD=1 takes out/'s .deb as it is.
e2e_package() {
	if [ "${KMODGUARD_E2E_NO_BUILD:-0}" = 1 ]; then
		_ep_deb=
		for _ep_f in "$E2E_REPO"/out/kmodguard_*.deb; do
			[ -f "$_ep_f" ] && _ep_deb=$_ep_f
		done
		[ -n "$_ep_deb" ] || die "out/ has no kmodguard_*.deb (KMODGUARD_E2E_NO_BUILD=1)"
	else
		log "scripts/package --no-lintian"
		_ep_deb=$("$E2E_REPO/scripts/package" --no-lintian | tail -n 1) || die "scripts/package failed"
	fi
	mkdir -p "$1"
	cp "$_ep_deb" "$1/kmodguard.deb"
	dpkg-deb -x "$1/kmodguard.deb" "$1/root"
	log "package: ${_ep_deb##*/} ($(du -k "$1/kmodguard.deb" | cut -f1) KiB)"
}

# ---------------------------------------------------------------------------------------------
# Checks.
# ---------------------------------------------------------------------------------------------

# The assertions are lib/check.sh's (check, expect, ...): scripts/e2e's totals are its
# CHECK_PASSED / CHECK_FAILED, a scenario's are what they grew by since it began (SC_P0, SC_F0).

# observe DESCRIPTION COMMAND [ARG...]: like check, for a known kmodguard defect: a failure is
# reported (WARN, and in the summary) but does not fail the run.
observe() {
	_o_what=$1
	shift
	check_try "$_o_what" "$@" && return 0
	check_show WARN "$_o_what"
	printf '%s (%s, %s): %s\n' "$SC_NAME" "$SC_GEN" "$SC_LAYOUT" "$_o_what" >>"$WORK/warnings"
}

# console REGEX: this boot's console shows REGEX (else: print the kmodguard lines).
console() {
	e2e_console_has "$1" && return 0
	printf 'no console line matching: %s\nkmodguard lines of boot %s:\n' "$1" "$BOOT_N"
	e2e_console_lines 'kmodguard' | tail -n 30
	return 1
}
no_console() {
	! e2e_console_lines "$1" | grep .
}
env_is() {
	expect "grubenv $1" "$(e2e_env "$1")" "$2"
}
boot_is() {
	expect "boot $BOOT_N (kernel, end)" "$BOOT_KERNEL $BOOT_END" "$1 $2"
}
report_is() {
	expect "report $1" "$(e2e_report_value "$1")" "$2"
}
# report_has KEY REGEX
report_has() {
	e2e_report_value "$1" | grep -E -q -e "$2" && return 0
	printf 'report %s: "%s" does not match %s\n' "$1" "$(e2e_report_value "$1")" "$2"
	return 1
}
# grubenv_valid: the last grubenv read is a 1024-byte block grub-editenv reads.
grubenv_valid() {
	[ "$(wc -c <"$E2E_GRUBENV")" -eq 1024 ] && grub-editenv "$E2E_GRUBENV" list
}
# journal_lacks REGEX: the guest's persistent journal of the last boot (read off the disk) has no
# line matching REGEX.
journal_lacks() {
	e2e_journal >"$WORK/journal.txt"
	[ -s "$WORK/journal.txt" ] || {
		echo "no journal on the disk"
		return 1
	}
	! grep -E -e "$1" "$WORK/journal.txt"
}
root_has() {
	e2e_root_exists "$1" || {
		echo "not on the root filesystem: $1"
		return 1
	}
}
# json_is FILTER WANT: jq FILTER on this boot's `kmodguard status --json`.
json_is() {
	e2e_report_json >"$WORK/status.json"
	_ji=$(jq -c "$1" "$WORK/status.json" 2>&1) || {
		printf 'status --json:\n'
		cat "$WORK/status.json"
		return 1
	}
	[ "$_ji" = "$2" ] && return 0
	printf 'jq %s: got %s, want %s\nstatus --json:\n' "$1" "$_ji" "$2"
	cat "$WORK/status.json"
	return 1
}
# initramfs_has KVER PATTERN: the image's /boot/initrd.img-KVER lists a path matching PATTERN.
initramfs_has() {
	rm -f "$WORK/initrd.img"
	e2e_boot_dump "/initrd.img-$1" "$WORK/initrd.img" || {
		echo "no /boot/initrd.img-$1 on the disk"
		return 1
	}
	lsinitramfs "$WORK/initrd.img" >"$WORK/initrd.list" 2>&1 || :
	grep -E -e "$2" "$WORK/initrd.list" && return 0
	echo "initrd.img-$1 has no $2 ($(wc -l <"$WORK/initrd.list") entries)"
	return 1
}

# ---------------------------------------------------------------------------------------------
# Running a scenario.
# ---------------------------------------------------------------------------------------------

# e2e_scenario NAME GEN LAYOUT: run it, print its timeline, record its result line.
e2e_scenario() {
	SC_NAME=$1 SC_GEN=$2 SC_LAYOUT=$3
	SC_P0=$CHECK_PASSED SC_F0=$CHECK_FAILED
	SC_STOPPED=
	log "=== scenario $SC_NAME ($SC_GEN, $SC_LAYOUT): $(e2e_scenario_doc "$SC_NAME")"
	_es_t0=$(date +%s)
	_es_fn=e2e_scenario_$(printf '%s' "$SC_NAME" | tr '-' '_')
	E2E_RUN=$WORK/$SC_NAME-$SC_GEN-$SC_LAYOUT
	mkdir -p "$E2E_RUN"
	CHECK_FAILURES=$E2E_RUN/failures
	: >"$CHECK_FAILURES"
	E2E_BOOTS=0
	E2E_RUN_MS=0
	E2E_GUESTFWD=
	E2E_NVME_DISKS=
	E2E_SERVER_PORT=
	"$_es_fn"
	_e2e_database_stop
	E2E_GUESTFWD=
	E2E_NVME_DISKS=
	if [ -n "$SC_STOPPED" ]; then
		check "scenario went on to the end ($SC_STOPPED)" false
	fi
	_es_secs=$(($(date +%s) - _es_t0))
	SC_PASSED=$((CHECK_PASSED - SC_P0)) SC_FAILED=$((CHECK_FAILED - SC_F0))
	{
		printf '\n--- %s (%s, %s): timeline\n' "$SC_NAME" "$SC_GEN" "$SC_LAYOUT"
		cat "$E2E_RUN/timeline" 2>/dev/null || :
		printf 'boots: %s, in QEMU %s s; scenario %s s (image preparation included)\n' "$E2E_BOOTS" \
			"$(ms_to_s "$E2E_RUN_MS")" "$_es_secs"
	} >&2
	if [ "$SC_FAILED" -gt 0 ]; then
		_es_result=FAIL
		_e2e_failure_excerpts >&2
	else
		_es_result=pass
	fi
	printf '%-20s %-16s %-7s %-5s %6s %6s  %s/%s\n' "$SC_NAME" "$SC_GEN" "$SC_LAYOUT" "$_es_result" \
		"$E2E_BOOTS" "$_es_secs" "$SC_PASSED" "$((SC_PASSED + SC_FAILED))" >>"$WORK/results"
	printf '%s %s %s %s %s %s %s %s\n' "$SC_NAME" "$SC_GEN" "$SC_LAYOUT" "$_es_result" "$E2E_BOOTS" \
		"$_es_secs" "$SC_PASSED" "$SC_FAILED" >>"$WORK/results.raw"
}

# The last console lines of every boot of a failed scenario.
_e2e_failure_excerpts() {
	printf '\n--- %s: console excerpts (last 25 lines per boot)\n' "$SC_NAME"
	_efe=1
	while [ "$_efe" -le "$E2E_BOOTS" ]; do
		printf '  boot %s:\n' "$_efe"
		e2e_console_lines '.' "$E2E_RUN/boot-$_efe.console" | tail -n 25 | sed 's/^/    | /'
		_efe=$((_efe + 1))
	done
}

e2e_json_summary() {
	printf '{"scenarios":['
	_ejs=
	while read -r _n _g _l _r _b _s _p _f; do
		printf '%s{"name":"%s","generator":"%s","layout":"%s","result":"%s","boots":%s,"seconds":%s,"passed":%s,"failed":%s}' \
			"$_ejs" "$_n" "$_g" "$_l" "$_r" "$_b" "$_s" "$_p" "$_f"
		_ejs=,
	done <"$WORK/results.raw"
	printf '],"passed":%s,"failed":%s}\n' "$CHECK_PASSED" "$CHECK_FAILED"
}

# boot_ended END...: end the scenario early when this boot did not end as expected (a later
# boot would test nothing).
boot_ended() {
	for _be in "$@"; do
		[ "$BOOT_END" = "$_be" ] && return 0
	done
	SC_STOPPED="boot $BOOT_N ended '$BOOT_END', expected: $*"
	log "stopping scenario $SC_NAME: $SC_STOPPED"
	return 1
}

# ---------------------------------------------------------------------------------------------
# The scenarios.
# ---------------------------------------------------------------------------------------------

# _e2e_guarded_run [KIND]: a run of the KIND image (guarded, or control, broken, two-modules):
# fresh disks, grubenv read, K_OLD/K_NEW and their menu paths.
_e2e_guarded_run() {
	_egr_img=$(e2e_image "$SC_GEN" "$SC_LAYOUT" "${1:-guarded}" "$WORK/package/kmodguard.deb") || die "no image"
	e2e_run_start "$E2E_RUN" "$_egr_img"
	e2e_grubenv_read
	K_OLD=$E2E_IMAGE_K_OLD K_NEW=$E2E_IMAGE_K_NEW P_OLD=$E2E_IMAGE_P_OLD P_NEW=$E2E_IMAGE_P_NEW
}

# _e2e_image_state_is_the_products: the image's grubenv holds nothing kmodguard did not write
# (the test bed sets no kmodguard_* variable), and GRUB's menu knows the old kernel as the
# fallback good entry (01_kmodguard at update-grub time).
_e2e_image_state_is_the_products() {
	check "image: grubenv has no kmodguard_* variable (none set by the test bed)" \
		eval "! grep -a '^kmodguard_' '$E2E_GRUBENV'"
	check "image: grub.cfg: GRUB's fallback good entry = the old kernel's full path" \
		grubcfg_has "set kmodguard_good_entry=\"$P_OLD\""
}

# Boot 1 of every guarded scenario: the new kernel, no driver, the guard falls back.
_e2e_boot_guard_falls_back() {
	e2e_boot
	check "boot $BOOT_N: GRUB boots the new kernel, the guard reboots" boot_is "$K_NEW" reboot
	check "boot $BOOT_N: guard: virtio_blk not found" console "kmodguard: module virtio_blk: .*not found"
	if [ "$SC_LAYOUT" = split ]; then
		check "boot $BOOT_N: guard schedules the newest kernel with the modules (no last good yet)" \
			console "kmodguard: scheduling fallback to $K_OLD \(newest with the modules\)"
		check "boot $BOOT_N: grubenv next_entry = old kernel's full menu path" env_is next_entry "$P_OLD"
		check "boot $BOOT_N: grubenv kmodguard_failed = new kernel" env_is kmodguard_failed "$K_NEW"
		check "boot $BOOT_N: grubenv kmodguard_attempts = 1" env_is kmodguard_attempts 1
	else
		check "boot $BOOT_N: guard cannot reach grubenv, reboots at once" \
			console "kmodguard: .*a reboot at once lets GRUB's trial counter"
		check "boot $BOOT_N: GRUB consumed the trial" env_is kmodguard_trial consumed
	fi
	check "boot $BOOT_N: the initramfs did not wait for the root device" \
		no_console 'Gave up waiting for root|ALERT!|Dropping to a shell'
	boot_ended reboot
}

e2e_scenario_main() {
	_e2e_guarded_run
	_e2e_image_state_is_the_products
	check "image: new kernel has no virtio_blk" \
		eval "! e2e_root_exists /lib/modules/$K_NEW/updates/kmodguard/virtio_blk.ko"

	_e2e_boot_guard_falls_back || return 0

	# Boot 2: GRUB's fallback to the old kernel; kmodguard complete rebuilds and reboots.
	e2e_boot
	check "boot $BOOT_N: the old kernel boots, complete reboots" boot_is "$K_OLD" reboot
	check "boot $BOOT_N: guard passes on the old kernel" console "kmodguard: kernel $K_OLD: .*: ok"
	if [ "$SC_LAYOUT" = single ]; then
		check "boot $BOOT_N: complete records GRUB's fallback (trial counter)" \
			console "recorded fallback: $K_NEW: GRUB booted"
	else
		check "boot $BOOT_N: complete records the guard's fallback" \
			console "recorded fallback: $K_NEW: virtio_blk: not found"
	fi
	check "boot $BOOT_N: complete builds for the new kernel" console "$K_NEW: driver missing; building"
	check "boot $BOOT_N: complete installs virtio_blk" console "$K_NEW: installed virtio_blk"
	check "boot $BOOT_N: complete rebuilds and verifies the initramfs" \
		console "$K_NEW: initramfs .* rebuilt and verified"
	check "boot $BOOT_N: complete reboots into the new kernel" console "rebooting into $K_NEW"
	check "disk: virtio_blk.ko for the new kernel in updates/kmodguard" \
		root_has "/lib/modules/$K_NEW/updates/kmodguard/virtio_blk.ko"
	check "disk: new kernel's initramfs holds virtio_blk.ko" initramfs_has "$K_NEW" 'virtio_blk\.ko'
	check "disk: new kernel's initramfs holds kmodguard-early" initramfs_has "$K_NEW" 'usr/sbin/kmodguard-early$'
	check "boot $BOOT_N: grubenv next_entry = new kernel" env_is next_entry "$P_NEW"
	check "boot $BOOT_N: kmodguard-complete ends by itself, not killed by the reboot it started" \
		journal_lacks "kmodguard-complete.service: (Main process exited, code=killed|Failed with result)"
	check "boot $BOOT_N: grubenv trial armed for the new kernel" \
		expect trial "$(e2e_env kmodguard_trial) $(e2e_env kmodguard_trial_kernel)" "armed $K_NEW"
	boot_ended reboot || return 0

	# Boot 3: the new kernel with its rebuilt driver.
	e2e_boot
	_e2e_new_kernel_works
	check "3 boots in all" expect boots "$E2E_BOOTS" 3
}

# Issue 13's loop: kmodguard installed (README's steps) on a single-layout machine whose newest
# kernel already lacks its driver, nothing else. The guard cannot reach grubenv; GRUB's automatic
# trial (01_kmodguard) and its kmodguard.boot= marker let it fall back once, then the story goes
# on. Before the fix this booted the new kernel again and again.
e2e_scenario_unarmed_single() {
	[ "$SC_LAYOUT" = single ] || die "unarmed-single needs the single layout (scripts/e2e skips it for split)"
	_e2e_guarded_run
	_e2e_image_state_is_the_products
	e2e_boot
	check "boot $BOOT_N: GRUB boots the new kernel, the guard reboots" boot_is "$K_NEW" reboot
	check "boot $BOOT_N: GRUB marked the boot a trial (kmodguard.boot=trial)" \
		console "Command line: .*kmodguard\.boot=trial"
	check "boot $BOOT_N: guard: grubenv unreachable, GRUB recorded a trial: reboot" \
		console "kmodguard: .*kmodguard\.boot=trial: GRUB recorded this boot as a trial"
	check "boot $BOOT_N: GRUB saved the automatic trial" \
		expect trial "$(e2e_env kmodguard_trial) $(e2e_env kmodguard_trial_kernel)" "consumed $K_NEW"
	boot_ended reboot || return 0
	e2e_boot
	check "boot $BOOT_N: GRUB falls back to the old kernel (kmodguard.boot=fallback)" \
		console "Command line: .*kmodguard\.boot=fallback"
	check "boot $BOOT_N: the old kernel builds, reboots" boot_is "$K_OLD" reboot
	check "boot $BOOT_N: complete records GRUB's fallback" console "recorded fallback: $K_NEW: GRUB booted"
	check "boot $BOOT_N: complete installs virtio_blk" console "$K_NEW: installed virtio_blk"
	boot_ended reboot || return 0
	e2e_boot
	_e2e_new_kernel_works
	check "the new kernel booted without its driver exactly once; no GIVING UP; 3 boots" \
		expect "K_NEW reboots, GIVING UP lines, boots" \
		"$(grep -c '^boot [0-9]*: K_NEW  reboot' "$E2E_RUN/timeline") $(cat "$E2E_RUN"/boot-*.console | grep -a -c 'GIVING UP') $E2E_BOOTS" "1 0 3"
}

# A syntax error in /etc/kmodguard/kmodguard.conf, made after the images were built (the guard
# in the initramfs has its own copy, checked when the image was built). Every boot still
# completes; the post-boot side logs the error with file and line and does nothing else; GRUB's
# trial keeps the machine on the old kernel after the one fallback.
e2e_scenario_config_broken() {
	_e2e_guarded_run
	_ecb_conf=/etc/kmodguard/kmodguard.conf
	e2e_root_cat "$_ecb_conf" >"$E2E_RUN/kmodguard.conf"
	printf 'MODULES="virtio_blk\n' >>"$E2E_RUN/kmodguard.conf"
	_ecb_line=$(wc -l <"$E2E_RUN/kmodguard.conf")
	printf 'rm %s\nwrite %s %s\n' "$_ecb_conf" "$E2E_RUN/kmodguard.conf" "$_ecb_conf" >"$E2E_RUN/debugfs.cmd"
	debugfs -w -f "$E2E_RUN/debugfs.cmd" "$E2E_FS_ROOT" >/dev/null 2>&1
	e2e_root_cat "$_ecb_conf" | tail -n 1 | grep -qx 'MODULES="virtio_blk' || die "could not break $_ecb_conf on the disk"
	printf 'before boot 1: %s line %s: MODULES="virtio_blk (unterminated quote)\n' "$_ecb_conf" "$_ecb_line" >>"$E2E_RUN/timeline"
	_e2e_boot_guard_falls_back || return 0
	_ecb_n=0
	while [ "$_ecb_n" -lt 2 ]; do
		_ecb_n=$((_ecb_n + 1))
		_e2e_boot_by_itself e2e_boot
		check "boot $BOOT_N: the old kernel, to the end" boot_is "$K_OLD" poweroff
		check "boot $BOOT_N: complete names the file and the line" \
			console "$_ecb_conf:$_ecb_line: .*unterminated quote"
		check "boot $BOOT_N: report written" e2e_report_complete
		boot_ended poweroff || return 0
	done
	check "the new kernel booted once (the first boot), 3 boots" \
		expect "K_NEW boots, boots" "$(grep -c '^boot [0-9]*: K_NEW' "$E2E_RUN/timeline") $E2E_BOOTS" "1 3"
}

# Two guarded modules, dm_mod (in-tree in both kernels) and virtio_blk (missing for the new
# kernel): the guard names only the missing one, complete builds only it, and in the end both
# load on the new kernel.
e2e_scenario_two_modules() {
	_e2e_guarded_run two-modules
	_e2e_boot_guard_falls_back || return 0
	check "boot $BOOT_N: guard: dm_mod loaded before virtio_blk failed" console "kmodguard: module dm_mod: loaded"
	check "boot $BOOT_N: guard: the reason names virtio_blk only" \
		console "kmodguard: kernel $K_NEW cannot reach its storage: virtio_blk: not found"
	e2e_boot
	check "boot $BOOT_N: the old kernel boots, complete reboots" boot_is "$K_OLD" reboot
	check "boot $BOOT_N: guard passes with both modules" \
		console "kmodguard: kernel $K_OLD: modules dm_mod virtio_blk, .*: ok"
	check "boot $BOOT_N: complete installs virtio_blk" console "$K_NEW: installed virtio_blk"
	check "disk: nothing built for dm_mod" eval "! e2e_root_exists /lib/modules/$K_NEW/updates/kmodguard/dm_mod.ko"
	boot_ended reboot || return 0
	e2e_boot
	_e2e_new_kernel_works
	check "boot $BOOT_N: guard passes with both modules on the new kernel" \
		console "kmodguard: kernel $K_NEW: modules dm_mod virtio_blk, .*: ok"
	check "3 boots in all" expect boots "$E2E_BOOTS" 3
}

# The boot just made ran the new kernel with its rebuilt driver to the end, and says so.
_e2e_new_kernel_works() {
	check "boot $BOOT_N: the new kernel boots to the end (poweroff by the report)" boot_is "$K_NEW" poweroff
	check "boot $BOOT_N: guard passes on the new kernel" console "kmodguard: kernel $K_NEW: .*: ok"
	check "boot $BOOT_N: report written" e2e_report_complete
	check "boot $BOOT_N: running the new kernel" report_is kernel "$K_NEW"
	check "boot $BOOT_N: virtio_blk from updates/kmodguard" \
		report_is virtio_blk_file "/lib/modules/$K_NEW/updates/kmodguard/virtio_blk.ko"
	if [ "$SC_LAYOUT" = split ]; then _em_root=/dev/vda1; else _em_root=/dev/vda2; fi
	check "boot $BOOT_N: root filesystem on virtio" report_is root "$_em_root"
	check "boot $BOOT_N: kmodguard-complete succeeded" \
		report_has unit.kmodguard-complete.service 'Result=success.*ExecMainStatus=0|ExecMainStatus=0.*Result=success'
	check "boot $BOOT_N: status --json ok" json_is .ok true
	check "boot $BOOT_N: status --json: every kernel has its driver" \
		json_is '[.kernels[].driver] | unique' '["installed"]'
	check "boot $BOOT_N: status --json: running the new kernel" json_is .runningKernel "\"$K_NEW\""
	check "boot $BOOT_N: status --json: no pin" json_is .pin null
	check "boot $BOOT_N: grubenv last good = new kernel" env_is kmodguard_last_good "$K_NEW"
	check "boot $BOOT_N: grubenv trial blessed (unset)" env_is kmodguard_trial "<unset>"
	check "boot $BOOT_N: grubenv no pin" env_is kmodguard_pin "<unset>"
}

# _e2e_break_source: the driver source on the run's disk gets a compile error.
_e2e_break_source() {
	_ebs_c=/usr/src/$E2E_DRIVER_NAME/virtio_blk.c
	e2e_root_cat "$_ebs_c" >"$E2E_RUN/virtio_blk.c"
	[ -s "$E2E_RUN/virtio_blk.c" ] || die "no $_ebs_c on the disk"
	printf '\n/* kmodguard e2e: a compile error */\nstatic int e2e_broken = e2e_undeclared_symbol;\n' \
		>>"$E2E_RUN/virtio_blk.c"
	printf 'rm %s\nwrite %s %s\n' "$_ebs_c" "$E2E_RUN/virtio_blk.c" "$_ebs_c" >"$E2E_RUN/debugfs.cmd"
	debugfs -w -f "$E2E_RUN/debugfs.cmd" "$E2E_FS_ROOT" >/dev/null 2>&1
	e2e_root_cat "$_ebs_c" | grep -q e2e_undeclared_symbol || die "could not break $_ebs_c on the disk"
}

e2e_scenario_compile_error() {
	_e2e_guarded_run
	_e2e_break_source
	_e2e_boot_guard_falls_back || return 0

	# Boot 2: the old kernel; the build fails; the old kernel is pinned; the machine stays up.
	e2e_boot
	check "boot $BOOT_N: the old kernel boots to the end (no reboot)" boot_is "$K_OLD" poweroff
	check "boot $BOOT_N: complete: build failed, with the compiler's error" \
		console "$K_NEW: build failed: .*e2e_undeclared_symbol"
	check "boot $BOOT_N: complete pins the old kernel" console "pinned $P_OLD"
	check "boot $BOOT_N: grubenv kmodguard_pin = old kernel" env_is kmodguard_pin "$P_OLD"
	check "boot $BOOT_N: no next_entry" env_is next_entry ""
	check "boot $BOOT_N: report written" e2e_report_complete
	check "boot $BOOT_N: status --json not ok" json_is .ok false
	check "boot $BOOT_N: status --json: new kernel's driver failed" \
		json_is "[.kernels[] | select(.release == \"$K_NEW\") | .driver]" '["failed"]'
	check "boot $BOOT_N: status --json: the first compiler error" \
		json_is "[.kernels[] | select(.release == \"$K_NEW\") | .firstError | test(\"error: .e2e_undeclared_symbol. undeclared\")]" '[true]'
	check "boot $BOOT_N: status --json: pinned to the old kernel" json_is .pin "\"$P_OLD\""
	check "disk: no virtio_blk.ko installed for the new kernel" \
		eval "! e2e_root_exists /lib/modules/$K_NEW/updates/kmodguard/virtio_blk.ko"
	boot_ended poweroff || return 0

	# Boots 3-4: power on again: the pin holds, no retry (nothing changed), no loop.
	for _ece in 1 2; do
		e2e_boot
		check "boot $BOOT_N: the old kernel again, to the end" boot_is "$K_OLD" poweroff
		check "boot $BOOT_N: guard passes, nothing scheduled" console "kmodguard: kernel $K_OLD: .*: ok"
		check "boot $BOOT_N: complete does not retry an unchanged failed build" \
			console "$K_NEW: failed before and nothing changed since; not retrying"
		check "boot $BOOT_N: still pinned" env_is kmodguard_pin "$P_OLD"
		check "boot $BOOT_N: status --json: first error still reported" \
			json_is "[.kernels[] | select(.release == \"$K_NEW\") | .firstError | test(\"e2e_undeclared_symbol\")]" '[true]'
		boot_ended poweroff || return 0
	done
	check "4 boots in all, the new kernel booted once" \
		expect boots "$E2E_BOOTS $(grep -c "^boot [0-9]*: K_NEW" "$E2E_RUN/timeline")" "4 1"
}

# _e2e_fill_boot IMAGE: a file of random bytes (debugfs would store zeros as holes) on the run's
# /boot filesystem that leaves it about half of IMAGE's size free: less than a rebuilt IMAGE
# needs next to the old one. Prints the bytes left free.
_e2e_fill_boot() {
	debugfs -R stats "$E2E_FS_BOOT" >"$E2E_RUN/boot-stats" 2>/dev/null
	_efb_bs=$(awk -F: '/^Block size:/ { gsub(/ /, "", $2); print $2; exit }' "$E2E_RUN/boot-stats")
	_efb_free=$(awk -F: '/^Free blocks:/ { gsub(/ /, "", $2); print $2; exit }' "$E2E_RUN/boot-stats")
	_efb_size=$(debugfs -R "stat $1" "$E2E_FS_BOOT" 2>/dev/null | sed -n 's/.*Size: \([0-9][0-9]*\).*/\1/p' | head -n 1)
	case "$_efb_bs:$_efb_free:$_efb_size" in
	:* | *::* | *:) die "cannot read /boot's free blocks or $1's size" ;;
	esac
	_efb_blocks=$((_efb_free - _efb_size / 2 / _efb_bs))
	[ "$_efb_blocks" -gt 0 ] || die "/boot has less room than half of $1 already"
	head -c "$((_efb_blocks * _efb_bs))" /dev/urandom >"$E2E_RUN/filler"
	debugfs -w -R "write $E2E_RUN/filler /e2e-filler" "$E2E_FS_BOOT" >"$E2E_RUN/debugfs.log" 2>&1
	rm -f "$E2E_RUN/filler"
	_efb_left=$(($(debugfs -R stats "$E2E_FS_BOOT" 2>/dev/null | awk -F: '/^Free blocks:/ { gsub(/ /, "", $2); print $2; exit }') * _efb_bs))
	[ "$_efb_left" -lt "$_efb_size" ] || die "could not fill /boot ($E2E_RUN/debugfs.log)"
	printf 'before boot 1: /boot filled (/e2e-filler): %s bytes free, %s is %s bytes\n' "$_efb_left" "$1" "$_efb_size" \
		>>"$E2E_RUN/timeline"
	printf '%s\n' "$_efb_left"
}

# boot_leftovers: /boot on the disk holds no kmodguard temporary image.
boot_leftovers() {
	! debugfs -R "ls -l $E2E_BOOT_PREFIX/" "$E2E_FS_BOOT" 2>/dev/null | grep -F '.kmodguard-new'
}

# Issue 13: /boot without room for the new kernel's rebuilt initramfs next to its old image. The
# driver builds and installs; the rebuild is refused before the generator runs; the old image
# stays byte for byte, the old kernel stays pinned, status names the bytes needed and free. Then
# the admin makes room, and the next boot completes by itself.
e2e_scenario_boot_full() {
	[ "$SC_LAYOUT" = split ] || die "boot-full needs the split layout (/boot of its own; scripts/e2e skips it for single)"
	_e2e_guarded_run
	_ebf_image=$E2E_BOOT_PREFIX/initrd.img-$K_NEW
	_ebf_before=$(debugfs -R "cat $_ebf_image" "$E2E_FS_BOOT" 2>/dev/null | sha256sum)
	_ebf_free=$(_e2e_fill_boot "$_ebf_image")
	log "/boot filled: $_ebf_free bytes free"
	_e2e_boot_guard_falls_back || return 0

	# Boot 2: the old kernel builds and installs the driver; the new image cannot be written.
	e2e_boot
	check "boot $BOOT_N: the old kernel boots to the end (no reboot)" boot_is "$K_OLD" poweroff
	check "boot $BOOT_N: complete installs virtio_blk for the new kernel" console "$K_NEW: installed virtio_blk"
	check "boot $BOOT_N: the rebuild is refused: bytes free and needed in /boot" \
		console "$K_NEW: initramfs rebuild failed, the old image is kept: no room for $K_NEW's new initramfs: /boot has [0-9]+ bytes free .*, about [0-9]+ bytes .* are needed"
	check "boot $BOOT_N: the driver was built (E2E-MARK build)" grep -q 'E2E-MARK build ' "$BOOT_REPORT"
	check "boot $BOOT_N: the initramfs generator never started" eval "! grep 'E2E-MARK initramfs ' '$BOOT_REPORT'"
	check "boot $BOOT_N: complete pins the old kernel" console "pinned $P_OLD"
	check "boot $BOOT_N: grubenv kmodguard_pin = old kernel" env_is kmodguard_pin "$P_OLD"
	check "boot $BOOT_N: no next_entry" env_is next_entry ""
	check "boot $BOOT_N: report written" e2e_report_complete
	check "boot $BOOT_N: status --json not ok" json_is .ok false
	check "boot $BOOT_N: status --json: new kernel failed, driver not in its initramfs, bytes free and needed" \
		json_is "[.kernels[] | select(.release == \"$K_NEW\") | [.driver, .inInitramfs, .missingModules, (.message | test(\"/boot has [0-9]+ bytes free .*about [0-9]+ bytes\"))]]" \
		'[["failed",false,[],true]]'
	check "boot $BOOT_N: kmodguard status names the cause" \
		grep -q "^kmodguard: ATTENTION: $K_NEW's driver is installed but not in its initramfs (initramfs: no room" "$BOOT_REPORT"
	check "disk: the new kernel's old initramfs is byte for byte the same" \
		expect "sha256 of $_ebf_image" "$(debugfs -R "cat $_ebf_image" "$E2E_FS_BOOT" 2>/dev/null | sha256sum)" "$_ebf_before"
	check "disk: no temporary image left in /boot" boot_leftovers
	boot_ended poweroff || return 0

	# The admin makes room; the next boot (the pinned old kernel) finishes the job.
	debugfs -w -R "rm /e2e-filler" "$E2E_FS_BOOT" >/dev/null 2>&1
	printf 'before boot %s: /e2e-filler removed (the admin made room in /boot)\n' "$((E2E_BOOTS + 1))" >>"$E2E_RUN/timeline"
	e2e_boot
	check "boot $BOOT_N: the pinned old kernel boots, complete reboots" boot_is "$K_OLD" reboot
	check "boot $BOOT_N: complete sees the installed driver missing from the initramfs" \
		console "$K_NEW: driver installed, but the initramfs is older than it"
	check "boot $BOOT_N: the initramfs is rebuilt and verified now" console "$K_NEW: initramfs .* rebuilt and verified"
	check "boot $BOOT_N: complete reboots into the new kernel" console "rebooting into $K_NEW"
	check "disk: new kernel's initramfs holds virtio_blk.ko" initramfs_has "$K_NEW" 'updates/kmodguard/virtio_blk\.ko'
	check "disk: no temporary image left in /boot" boot_leftovers
	boot_ended reboot || return 0

	e2e_boot
	_e2e_new_kernel_works
	check "4 boots in all; the new kernel booted twice: without its driver once (boot 1), then with it" \
		expect boots "$E2E_BOOTS $(grep -c "^boot [0-9]*: K_NEW" "$E2E_RUN/timeline")" "4 2"
}

# _e2e_power_cut MARK LO_MS HI_MS: boot 1 falls back; boot 2 (the old kernel) loses power at a
# random moment LO..HI ms after E2E-MARK MARK; then boots go on until one powers off by itself.
_e2e_power_cut() {
	_e2e_guarded_run
	_epc_delay=$(awk -v seed="$E2E_SEED" -v lo="$2" -v hi="$3" 'BEGIN { srand(seed); printf "%d", lo + rand() * (hi - lo) }')
	log "power cut: seed $E2E_SEED -> $(ms_to_s "$_epc_delay") s after the $1 mark"
	printf 'seed %s: power cut %s s after the %s mark\n' "$E2E_SEED" "$(ms_to_s "$_epc_delay")" "$1" >>"$E2E_RUN/timeline"
	_e2e_boot_guard_falls_back || return 0

	e2e_boot --cut-on "E2E-MARK $1 " "$_epc_delay"
	check "boot $BOOT_N: the old kernel boots and loses power during the $1 step" boot_is "$K_OLD" cut
	check "after the cut: grubenv is a valid block" grubenv_valid
	check "after the cut: new kernel's initramfs unchanged or complete (never half-written)" \
		_e2e_initrd_intact "$K_NEW"
	boot_ended cut || return 0
	_e2e_finds_its_way
}

# _e2e_boot_by_itself BOOT_FUNCTION: one boot (e2e_boot, or _e2e_install_boot) that must end by
# itself, in a reboot or the report's poweroff, never in a hang or an initramfs shell.
_e2e_boot_by_itself() {
	"$1"
	check "boot $BOOT_N: ends by itself (reboot or poweroff)" \
		expect end "$(case $BOOT_END in reboot | poweroff) echo ok ;; *) echo "$BOOT_END" ;; esac)" ok
	check "boot $BOOT_N: no initramfs shell, no wait for the root device" \
		no_console 'Gave up waiting for root|ALERT!|Dropping to a shell|emergency'
}

# _e2e_finds_its_way: after a power cut the machine must find its way by itself: every boot ends
# in a reboot or the report's poweroff, never in a hang or an initramfs shell, and the last one
# is the new kernel, working.
_e2e_finds_its_way() {
	_epc_n=0
	while [ "$_epc_n" -lt 5 ]; do
		_epc_n=$((_epc_n + 1))
		_e2e_boot_by_itself e2e_boot
		check "boot $BOOT_N: grubenv is a valid block" grubenv_valid
		case $BOOT_END in
		reboot) continue ;;
		*) break ;;
		esac
	done
	check "the boots end with the new kernel powering off by itself" boot_is "$K_NEW" poweroff
	if [ "$BOOT_END" = poweroff ] && [ "$BOOT_KERNEL" = "$K_NEW" ]; then
		_e2e_new_kernel_works
	fi
	check "guard fallbacks stay under MAX_ATTEMPTS (3)" \
		expect fallbacks "$(grep -c 'guard     rebooting now' "$E2E_RUN/timeline" | awk '{ print ($1 <= 3) ? "ok" : $1 }')" ok
}

# _e2e_initrd_intact KVER: the image on the disk is a complete initramfs (it lists, and ends
# with the usual trailer), whatever the power cut interrupted.
_e2e_initrd_intact() {
	rm -f "$WORK/initrd.img"
	e2e_boot_dump "/initrd.img-$1" "$WORK/initrd.img" || {
		echo "no /boot/initrd.img-$1"
		return 1
	}
	lsinitramfs "$WORK/initrd.img" >"$WORK/initrd.list" 2>"$WORK/initrd.err" || {
		cat "$WORK/initrd.err"
		return 1
	}
	grep -q 'usr/sbin/kmodguard-early$' "$WORK/initrd.list" || {
		echo "initrd.img-$1 lists no usr/sbin/kmodguard-early ($(wc -l <"$WORK/initrd.list") entries)"
		return 1
	}
}

# The guard's own grubenv write: boot 1 (the new kernel) loses power 0..60 ms after the guard
# says "scheduling fallback", which it logs just before its in-place write + fsync; the write,
# the unmount and the reboot take about 40 ms in the guest, so seeds land before, during and
# after it. Split layout only (in the single layout the guard does not write grubenv).
e2e_scenario_power_cut_guard() {
	[ "$SC_LAYOUT" = split ] || die "power-cut-guard needs the split layout (scripts/e2e skips it for single)"
	_e2e_guarded_run
	_epg_delay=$(awk -v seed="$E2E_SEED" 'BEGIN { srand(seed); printf "%d", rand() * 60 }')
	log "power cut: seed $E2E_SEED -> $_epg_delay ms after the guard's 'scheduling fallback'"
	printf 'seed %s: power cut %s ms after the guard says "scheduling fallback"\n' "$E2E_SEED" \
		"$_epg_delay" >>"$E2E_RUN/timeline"
	e2e_boot --cut-on 'kmodguard: scheduling fallback' "$_epg_delay"
	check "boot $BOOT_N: the new kernel's guard schedules the fallback" \
		console "kmodguard: scheduling fallback to $K_OLD"
	check "boot $BOOT_N: ends in the power cut or the guard's own reboot" \
		expect end "$(case $BOOT_END in cut | reboot) echo ok ;; *) echo "$BOOT_END" ;; esac)" ok
	check "after the cut: grubenv is a valid block" grubenv_valid
	# Either the old block or the complete new one: never a mix.
	case $(e2e_env next_entry):$(e2e_env kmodguard_attempts) in
	":") _epg_landed="before the write reached the disk (grubenv unchanged)" ;;
	"$P_OLD:1") _epg_landed="after the write (next_entry = old kernel, attempts = 1)" ;;
	*) _epg_landed="mixed: next_entry='$(e2e_env next_entry)' attempts='$(e2e_env kmodguard_attempts)'" ;;
	esac
	log "power cut landed $_epg_landed"
	printf '    cut       landed %s\n' "$_epg_landed" >>"$E2E_RUN/timeline"
	check "after the cut: grubenv holds the old or the complete new state" \
		expect grubenv "$(case $_epg_landed in mixed*) echo "$_epg_landed" ;; *) echo whole ;; esac)" whole
	_e2e_finds_its_way
}

e2e_scenario_power_cut_build() {
	_e2e_power_cut build 500 25000
}

# Between the module's copy and depmod: the cut lands 0-1.5 s after depmod starts.
e2e_scenario_power_cut_install() {
	_e2e_power_cut install 0 1500
}

e2e_scenario_power_cut_initramfs() {
	_e2e_power_cut initramfs 1000 120000
}

# The old kernel's initramfs lacks the driver too (the "broken" image). Power cycles (a person at
# the console) after every boot that ends in the initramfs shell. The guard must fall back at
# most MAX_ATTEMPTS (3) times in a row, then let the boot fall through, saying so loudly; the
# old kernel's guard has nowhere to go and must not reboot either.
# Both kernels lack the driver (the old kernel's initramfs too). The new kernel's guard falls
# back once; the old kernel's guard finds no other kernel and lets the boot fall through (the
# initramfs shell: a person must act). GRUB's automatic trial of the new kernel was consumed and
# never blessed, so from then on GRUB boots the good entry: every later power-on is the old
# kernel giving up, without a reboot (issue 13; before GRUB's trial the guard alternated the two
# kernels until MAX_ATTEMPTS).
e2e_scenario_fallback_broken() {
	_e2e_guarded_run broken
	check "image: the old kernel's initramfs lacks virtio_blk" \
		eval "! initramfs_has $K_OLD 'virtio_blk\\.ko'"
	_efb_shell='ALERT! |Dropping to a shell|Entering emergency mode|dracut-initqueue.*timeout'
	e2e_boot --stop-on "$_efb_shell"
	check "boot $BOOT_N: new kernel: the guard falls back" boot_is "$K_NEW" reboot
	if [ "$SC_LAYOUT" = split ]; then
		check "boot $BOOT_N: guard schedules the old kernel" console "kmodguard: scheduling fallback to $K_OLD"
	else
		check "boot $BOOT_N: guard cannot reach grubenv, reboots for GRUB's trial counter" \
			console "kmodguard: .*a reboot at once lets GRUB's trial counter"
	fi
	boot_ended reboot || return 0
	# Powered on again three times (each boot ends in the initramfs shell).
	for _efb_n in 1 2 3; do
		e2e_boot --stop-on "$_efb_shell"
		check "boot $BOOT_N: the old kernel (GRUB's good entry), its boot falls through to the shell" \
			boot_is "$K_OLD" stopped
		check "boot $BOOT_N: old kernel: guard gives up, does not reboot" \
			console "kmodguard: GIVING UP: no other installed kernel has the guarded modules"
		check "boot $BOOT_N: old kernel: no fallback written" env_empty next_entry
		boot_ended stopped || return 0
	done
	check "boot $BOOT_N: GRUB recorded the unblessed trial of the new kernel" \
		expect trial "$(e2e_env kmodguard_trial) $(e2e_env kmodguard_trial_kernel)" "failed $K_NEW"
	check "4 boots: the new kernel once, one guard reboot in all, attempts 1" \
		expect "boots, new kernel boots, guard reboots, attempts" \
		"$E2E_BOOTS $(grep -c '^boot [0-9]*: K_NEW' "$E2E_RUN/timeline") $(grep -c 'guard     rebooting now' "$E2E_RUN/timeline") $(e2e_env kmodguard_attempts)" \
		"4 1 1 1"
}

e2e_scenario_control() {
	_ec_img=$(e2e_image "$SC_GEN" "$SC_LAYOUT" control) || die "no image"
	e2e_run_start "$E2E_RUN" "$_ec_img"
	e2e_grubenv_read
	K_NEW=$E2E_IMAGE_K_NEW
	check "image: no kmodguard installed" eval "! e2e_root_exists /usr/sbin/kmodguard"
	# initramfs-tools gives up after rootdelay (30 s) and drops to a shell; dracut after rd.retry.
	e2e_boot --stop-on 'Dropping to a shell|ALERT! |dracut-initqueue.*[Tt]imeout|Entering emergency mode|emergency shell'
	check "control: GRUB boots the new kernel" expect kernel "$BOOT_KERNEL" "$K_NEW"
	check "control: the new kernel does not find its root" boot_is "$K_NEW" stopped
	check "control: no guard ran" no_console 'kmodguard'
	check "control: initramfs gave up on the root device" \
		console "ALERT! +UUID=$E2E_ROOT_UUID does not exist|Could not boot|dracut-initqueue.*timeout"
}
