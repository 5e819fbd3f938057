# shellcheck shell=sh
# Variables set here are results for the caller:
# shellcheck disable=SC2034
# e2e-boot.sh - boot a scripts/e2e disk image in QEMU, boot after boot, and read the disks
# between boots without booting. Source after common.sh and e2e-image.sh:
#
#   e2e_run_start RUNDIR IMAGEDIR   # copy the image's disks into RUNDIR, load its meta
#   e2e_boot                        # one boot; sets BOOT_* (below)
#   e2e_grubenv_read                # grubenv off the disk (debugfs, no mount) -> $RUN/grubenv-N
#   e2e_env NAME                    # a variable of the last grubenv read, or "<unset>"
#
# QEMU (lib/qemu.sh's qemu_run): -accel tcg (no KVM here), SeaBIOS, -no-reboot (a guest reboot
# ends QEMU: one QEMU run per boot), serial port 1 (ttyS0: GRUB, kernel, initramfs, systemd) ->
# boot-N.console, serial port 2 (ttyS1: the guest's e2e-report) -> boot-N.report. Network: user mode, restrict=on
# (plus E2E_GUESTFWD when set: a "guestfwd=..." option for the driver database). Split layout:
# the NVMe disks are E2E_NVME_DISKS (files in the run directory, in boot order; default boot.img).
#
# A watchdog bounds every boot (E2E_BOOT_TIMEOUT seconds): a hang fails the scenario, not CI.

: "${E2E_BOOT_TIMEOUT:=900}"
: "${E2E_QEMU_MEM:=1024}"
: "${E2E_QEMU_SMP:=2}"

# e2e_run_start RUNDIR IMAGEDIR: fresh copies of the image's disks; E2E_RUN, E2E_BOOTS=0 and the
# image's meta (E2E_IMAGE_*).
e2e_run_start() {
	E2E_RUN=$1
	mkdir -p "$E2E_RUN"
	for _ers_img in "$2"/*.img; do
		cp --sparse=always "$_ers_img" "$E2E_RUN/"
	done
	cp "$2/meta" "$E2E_RUN/meta"
	# shellcheck source=/dev/null
	. "$E2E_RUN/meta"
	E2E_BOOTS=0
	E2E_RUN_MS=0
	: >"$E2E_RUN/timeline"
	# Where grubenv lives: the boot filesystem (split) or the root filesystem's /boot.
	if [ "$E2E_IMAGE_LAYOUT" = split ]; then
		E2E_FS_BOOT="$E2E_RUN/boot.img?offset=$(($(_e2e_part_start "$E2E_RUN/boot.img" 2) * 512))"
		E2E_FS_ROOT="$E2E_RUN/root.img?offset=$(($(_e2e_part_start "$E2E_RUN/root.img" 1) * 512))"
		E2E_BOOT_PREFIX=
	else
		E2E_FS_ROOT="$E2E_RUN/root.img?offset=$(($(_e2e_part_start "$E2E_RUN/root.img" 2) * 512))"
		E2E_FS_BOOT=$E2E_FS_ROOT
		E2E_BOOT_PREFIX=/boot
	fi
}

_e2e_part_start() {
	partx -g -o START -n "$2" "$1" | tr -d ' '
}

# e2e_boot [--stop-on REGEX] [--cut-on REGEX DELAY_MS]: boot once. QEMU ends by itself (the guest
# powered off or rebooted), or is stopped once REGEX shows on the console (the boot is as good
# as over: a shell after a failed root mount), or is killed (SIGKILL: a power cut) DELAY_MS after
# --cut-on's REGEX shows on the console or the report port (e2e-marks: "E2E-MARK build"), or by
# the watchdog. Sets:
#   BOOT_N        the boot's number (1, 2, ...); files $E2E_RUN/boot-N.{console,report,qemu}
#   BOOT_END      poweroff | reboot | stopped | cut | watchdog | exit-STATUS | crashed
#   BOOT_KERNEL   the kernel GRUB loaded ("Loading Linux K ..."), or "none"
#   BOOT_MS       wall-clock milliseconds
e2e_boot() {
	_eb_stop='' _eb_cut='' _eb_delay=0
	while [ $# -gt 0 ]; do
		case $1 in
		--stop-on) _eb_stop=$2; shift ;;
		--cut-on) _eb_cut=$2 _eb_delay=$3; shift 2 ;;
		*) die "e2e_boot: unknown argument $1" ;;
		esac
		shift
	done
	E2E_BOOTS=$((E2E_BOOTS + 1))
	BOOT_N=$E2E_BOOTS
	BOOT_CONSOLE=$E2E_RUN/boot-$BOOT_N.console
	BOOT_REPORT=$E2E_RUN/boot-$BOOT_N.report
	set -- --name "boot $BOOT_N" --serial "$BOOT_CONSOLE" --serial "$BOOT_REPORT" \
		--log "$E2E_RUN/boot-$BOOT_N.qemu" --mem "$E2E_QEMU_MEM" --smp "$E2E_QEMU_SMP" \
		--timeout "$E2E_BOOT_TIMEOUT" --poll 0.5 --stop-on "$_eb_stop" --grace 1
	[ -z "$_eb_cut" ] || set -- "$@" --cut-on "$_eb_cut" "$_eb_delay"
	if [ "$E2E_IMAGE_LAYOUT" = split ]; then
		# The NVMe disks in boot order (bootindex 0, 1, ...), serial "e2e" + the file's name
		# without .img: boot.img alone, unless a scenario says otherwise (E2E_NVME_DISKS).
		_eq_n=0
		for _eq_disk in ${E2E_NVME_DISKS:-boot.img}; do
			set -- "$@" --disk nvme "$E2E_RUN/$_eq_disk" cache=unsafe "serial=e2e${_eq_disk%.img},bootindex=$_eq_n"
			_eq_n=$((_eq_n + 1))
		done
		set -- "$@" --disk virtio-blk-pci "$E2E_RUN/root.img" cache=unsafe ""
	else
		set -- "$@" --disk virtio-blk-pci "$E2E_RUN/root.img" cache=unsafe bootindex=0
	fi
	qemu_run "$@" --net "${E2E_GUESTFWD:-}"
	BOOT_MS=$QEMU_MS BOOT_END=$QEMU_END
	E2E_RUN_MS=$((E2E_RUN_MS + BOOT_MS))
	if [ "$BOOT_END" = timeout ]; then
		BOOT_END=watchdog
	elif [ "$BOOT_END" = exited ]; then
		if [ "$QEMU_STATUS" -ne 0 ]; then
			BOOT_END=exit-$QEMU_STATUS
		elif e2e_console_has 'reboot: Power down'; then
			BOOT_END=poweroff
		elif e2e_console_has 'reboot: Restarting system'; then
			BOOT_END=reboot
		else
			BOOT_END=crashed
		fi
	fi
	BOOT_KERNEL=$(e2e_console_lines 'Loading Linux [^ ]+ \.\.\.' |
		sed -n 's/.*Loading Linux \([^ ]*\) \.\.\..*/\1/p' | head -n 1)
	: "${BOOT_KERNEL:=none}"
	e2e_grubenv_read
	_e2e_timeline
}

# e2e_console_lines REGEX [FILE]: matching console lines, without CRs and escape sequences.
e2e_console_lines() {
	console_lines "${2:-$BOOT_CONSOLE}" "$1"
}

# e2e_console_has REGEX [FILE]
e2e_console_has() {
	tr -d '\r' <"${2:-$BOOT_CONSOLE}" | grep -a -q -E -e "$1"
}

# e2e_report_value KEY: KEY=value from this boot's report (ttyS1), or "".
e2e_report_value() {
	tr -d '\r' <"$BOOT_REPORT" | sed -n "s/^$1=//p" | head -n 1
}

# e2e_report_json: the `kmodguard status --json` of this boot's report.
e2e_report_json() {
	tr -d '\r' <"$BOOT_REPORT" | sed -n '/^E2E-STATUS-JSON-BEGIN$/,/^E2E-STATUS-JSON-END$/p' |
		sed '1d;$d'
}

# e2e_report_complete: was the report written in full?
e2e_report_complete() {
	tr -d '\r' <"$BOOT_REPORT" | grep -q '^E2E-REPORT-END$'
}

# e2e_grubenv_read: grubenv from the disk image (debugfs; QEMU is not running) into
# $E2E_RUN/grubenv-N (N = the last boot; 0 before the first).
e2e_grubenv_read() {
	E2E_GRUBENV=$E2E_RUN/grubenv-$E2E_BOOTS
	debugfs -R "cat $E2E_BOOT_PREFIX/grub/grubenv" "$E2E_FS_BOOT" >"$E2E_GRUBENV" 2>/dev/null || :
}

# e2e_grubenv_set NAME=VALUE...: set variables in grubenv on the disk (grub-editenv on a copy,
# written back with debugfs; QEMU is not running), as grub-editenv or grub-reboot would; then
# reads it again.
e2e_grubenv_set() {
	e2e_grubenv_read
	cp "$E2E_GRUBENV" "$E2E_RUN/grubenv.new"
	grub-editenv "$E2E_RUN/grubenv.new" set "$@"
	printf 'rm %s/grub/grubenv\nwrite %s %s/grub/grubenv\n' "$E2E_BOOT_PREFIX" "$E2E_RUN/grubenv.new" \
		"$E2E_BOOT_PREFIX" >"$E2E_RUN/debugfs-grubenv.cmd"
	debugfs -w -f "$E2E_RUN/debugfs-grubenv.cmd" "$E2E_FS_BOOT" >>"$E2E_RUN/debugfs.log" 2>&1
	e2e_grubenv_read
}

# e2e_env NAME: NAME's value in the last grubenv read, "<unset>" when absent, "<invalid>" when
# the block is not one grub-editenv reads.
e2e_env() {
	if ! grub-editenv "$E2E_GRUBENV" list >/dev/null 2>&1; then
		echo "<invalid>"
		return 0
	fi
	grub-editenv "$E2E_GRUBENV" list | awk -v n="$1" '
		index($0, n "=") == 1 { print substr($0, length(n) + 2); found = 1; exit }
		END { if (!found) print "<unset>" }'
}

# e2e_grubenv_short: the last grubenv's variables on one line, menu paths abbreviated.
e2e_grubenv_short() {
	grub-editenv "$E2E_GRUBENV" list 2>/dev/null | awk -v po="$E2E_IMAGE_P_OLD" -v pn="$E2E_IMAGE_P_NEW" \
		-v ko="$E2E_IMAGE_K_OLD" -v kn="$E2E_IMAGE_K_NEW" '
		{ v = substr($0, index($0, "=") + 1); n = substr($0, 1, index($0, "=") - 1)
		  if (v == po) v = "P_OLD"; else if (v == pn) v = "P_NEW"
		  else if (v == ko) v = "K_OLD"; else if (v == kn) v = "K_NEW"
		  sub(/^kmodguard_/, "", n)
		  if (v == "") next
		  printf "%s%s=%s", sep, n, v; sep = " " }'
}

# e2e_root_exists PATH: PATH exists on the root filesystem of the disk image.
e2e_root_exists() {
	debugfs -R "stat $1" "$E2E_FS_ROOT" 2>/dev/null | grep -q '^Inode:'
}

# e2e_root_cat PATH: a file of the root filesystem.
e2e_root_cat() {
	debugfs -R "cat $1" "$E2E_FS_ROOT" 2>/dev/null
}

# e2e_boot_dump PATH OUT: a file of the filesystem holding /boot (PATH relative to /boot).
e2e_boot_dump() {
	debugfs -R "dump $E2E_BOOT_PREFIX$1 $2" "$E2E_FS_BOOT" >/dev/null 2>&1
	[ -s "$2" ]
}

# e2e_journal [JOURNALCTL_ARG...]: the guest's persistent journal of the last boot that reached
# its root filesystem, read off the disk (debugfs rdump, journalctl -D).
e2e_journal() {
	rm -rf "$E2E_RUN/journal"
	mkdir -p "$E2E_RUN/journal"
	debugfs -R "rdump /var/log/journal $E2E_RUN/journal" "$E2E_FS_ROOT" >/dev/null 2>&1 || :
	journalctl -D "$E2E_RUN/journal/journal" -b 0 -o short-monotonic --no-pager "$@" 2>/dev/null || :
}

# e2e_kernel_short K: K_OLD / K_NEW.
e2e_kernel_short() {
	case $1 in
	"$E2E_IMAGE_K_OLD") echo K_OLD ;;
	"$E2E_IMAGE_K_NEW") echo K_NEW ;;
	*) echo "$1" ;;
	esac
}

# _e2e_timeline: one line per boot: kernel, how it ended, time, what the guard and the
# completion service did, and grubenv afterwards.
_e2e_timeline() {
	_et_guard=$(e2e_console_lines '\] kmodguard(-hook)?: ' | sed 's/^.*\] \(kmodguard\(-hook\)\{0,1\}: \)/\1/' |
		grep -v -E 'module [^ ]+: loaded$|: ok$' | sed 's/^kmodguard: //' | cut -c1-110)
	_et_initramfs=$(e2e_console_lines 'ALERT!|Gave up waiting|Dropping to a shell|Entering emergency mode|dracut-initqueue.*timeout' |
		sed 's/^\[ *[0-9.]*\] //' | cut -c1-110)
	_et_done=$(e2e_console_lines 'kmodguard\[[0-9]+\]: ' | grep -F '[kmodguard] ' |
		sed 's/^.*\[kmodguard\] //' | grep -v '^grubenv updated' | cut -c1-110)
	{
		printf 'boot %s: %-6s %-9s %6ss  (%s)\n' "$BOOT_N" "$(e2e_kernel_short "$BOOT_KERNEL")" "$BOOT_END" \
			"$(ms_to_s "$BOOT_MS")" "$BOOT_KERNEL"
		printf '%s\n' "$_et_guard" | sed '/^$/d; s/^/    guard     /'
		printf '%s\n' "$_et_initramfs" | sed '/^$/d; s/^/    initramfs /'
		printf '%s\n' "$_et_done" | sed '/^$/d; s/^/    complete  /'
		printf '    grubenv   %s\n' "$(e2e_grubenv_short)"
	} >>"$E2E_RUN/timeline"
	log "boot $BOOT_N: $(e2e_kernel_short "$BOOT_KERNEL") ($BOOT_KERNEL), $BOOT_END after $(ms_to_s "$BOOT_MS") s"
}
