# shellcheck shell=sh
# Variables set here are read by scripts/e2e and e2e-scenarios.sh:
# shellcheck disable=SC2034
# e2e-proactive.sh - issue 6, scenario 6: the proactive path. Source after e2e-scenarios.sh.
#
# A third kernel package (E2E_K3, default 6.1.0-54-cloud-amd64: older than both image kernels,
# so the user boots it with grub-reboot) is installed with dpkg inside the running guest, from
# .debs the host downloaded (apt-get download, cached under $KMODGUARD_CACHE/e2e-debs/KVER) and
# copied into the run's disk before the boot; the guest has no route to a mirror.
#
#   proactive             image + headers: kmodguard's postinst.d hook (zz-kmodguard ->
#                         `kmodguard complete --hook`) builds virtio_blk for K3 during the
#                         install, so K3 boots with the guard passing and no fallback
#   proactive-no-headers  the image only: the hook cannot build; the shutdown-time check
#                         (kmodguard-shutdown.service -> `kmodguard prepare-shutdown`) pins the
#                         good kernel, so the next boot is the good kernel, without a fallback
#
# Both start from the good state `main` ends in (boots 1-3: the new kernel got its driver through
# the fallback and the completion service). The first proactive scenario of a run keeps a copy
# of its disks after boot 3; a second one of the same generator and layout starts from that copy
# (its timeline says so) instead of booting three more times.

E2E_ALL_SCENARIOS="$E2E_ALL_SCENARIOS proactive proactive-no-headers"

: "${E2E_K3:=6.1.0-54-cloud-amd64}"
# The install boot builds an initramfs twice in the guest (the kernel package's own, then
# kmodguard's with the driver): its watchdog is at least this many seconds.
: "${E2E_INSTALL_BOOT_TIMEOUT:=1800}"

# _e2e_k3_debs WITH_HEADERS: the .debs to install, downloaded once into
# $KMODGUARD_CACHE/e2e-debs/$E2E_K3 (apt-get download from the host's own apt sources); prints
# their paths, one a line.
_e2e_k3_debs() {
	_ekd_pkgs="linux-image-$E2E_K3"
	if [ "$1" = 1 ]; then
		# linux-headers-K3 depends on linux-headers-<abi>-common (the same version); kbuild and
		# the compiler packages are in the image already (the other kernels' headers need them).
		_ekd_pkgs="$_ekd_pkgs linux-headers-$E2E_K3 linux-headers-${E2E_K3%-cloud-amd64}-common"
	fi
	# shellcheck disable=SC2086 # one word per package
	_e2e_debs "$KMODGUARD_CACHE/e2e-debs/$E2E_K3" $_ekd_pkgs
}

# _e2e_debs DIR PACKAGE...: each PACKAGE's .deb, downloaded once into DIR (apt-get download from
# the host's own apt sources: the guests have no route to a mirror); prints their paths, one a line.
_e2e_debs() {
	_ekd_dir=$1
	shift
	for _ekd_p in "$@"; do
		_ekd_deb=$(_e2e_cached_deb "$_ekd_dir" "$_ekd_p")
		if [ -z "$_ekd_deb" ]; then
			apt_workdir "$_ekd_dir"
			log "apt-get download $_ekd_p (once, cached in $_ekd_dir)"
			(cd "$_ekd_dir" && run_quiet "apt-get download $_ekd_p" _apt_get download "$_ekd_p") ||
				die "could not download $_ekd_p"
			_ekd_deb=$(_e2e_cached_deb "$_ekd_dir" "$_ekd_p")
			[ -n "$_ekd_deb" ] || die "apt-get download left no ${_ekd_p}_*.deb in $_ekd_dir"
		fi
		printf '%s\n' "$_ekd_deb"
	done
}

# _e2e_cached_deb DIR PACKAGE: DIR's PACKAGE_*.deb (the last in glob order), or "".
_e2e_cached_deb() {
	_ecd=
	for _ecd_f in "$1/${2}_"*.deb; do
		[ -f "$_ecd_f" ] && _ecd=$_ecd_f
	done
	printf '%s\n' "$_ecd"
}

# _e2e_debugfs_unit NAME DIR: the debugfs commands that put the one-shot guest step DIR/NAME in
# /usr/local/sbin and its unit DIR/NAME.service in /etc/systemd/system, enabled (wanted by
# multi-user.target). debugfs keeps the host file's mode.
_e2e_debugfs_unit() {
	echo "write $2/$1 /usr/local/sbin/$1"
	echo "write $2/$1.service /etc/systemd/system/$1.service"
	echo "symlink /etc/systemd/system/multi-user.target.wants/$1.service /etc/systemd/system/$1.service"
}

# _e2e_k3_commands WITH_HEADERS GUESTDIR: the debugfs commands that put K3's .debs (their host
# paths are left in $E2E_RUN/debs), K3's release (GUESTDIR/kernel), a one-shot marker
# (GUESTDIR/pending) and a dpkg path-exclude for the in-tree virtio_blk.ko (the image deleted it
# from its kernels: a kernel package installed later must lack it as well, or K3 would have its
# driver all along) onto the root filesystem.
_e2e_k3_commands() {
	_e2e_k3_debs "$1" >"$E2E_RUN/debs" || die "no kernel packages for $E2E_K3"
	printf '%s\n' "$E2E_K3" >"$E2E_RUN/k3-kernel"
	: >"$E2E_RUN/k3-pending"
	echo "mkdir $2"
	while read -r _ekc_deb; do
		echo "write $_ekc_deb $2/${_ekc_deb##*/}"
	done <"$E2E_RUN/debs"
	echo "write $E2E_RUN/k3-kernel $2/kernel"
	echo "write $E2E_RUN/k3-pending $2/pending"
	echo "write $E2E_REPO/Tests/Fixtures/e2e-proactive/dpkg-no-virtio-blk.cfg /etc/dpkg/dpkg.cfg.d/e2e-no-virtio-blk"
}

# _e2e_k3_written GUESTDIR UNIT FILE...: after debugfs ran _e2e_k3_commands and _e2e_debugfs_unit
# UNIT: every FILE, the unit (enabled) and each .deb (whole) are on the disk, else die; a line in
# the timeline says what went onto the disk.
_e2e_k3_written() {
	_ekw_dir=$1 _ekw_unit=$2
	shift 2
	for _ekw_f in "$_ekw_dir/pending" /etc/dpkg/dpkg.cfg.d/e2e-no-virtio-blk "/usr/local/sbin/$_ekw_unit" \
		"/etc/systemd/system/multi-user.target.wants/$_ekw_unit.service" "$@"; do
		e2e_root_exists "$_ekw_f" || die "could not put $_ekw_f onto the disk ($E2E_RUN/debugfs.log)"
	done
	while read -r _ekw_deb; do
		[ "$(e2e_root_cat "$_ekw_dir/${_ekw_deb##*/}" | wc -c)" -eq "$(wc -c <"$_ekw_deb")" ] ||
			die "could not copy ${_ekw_deb##*/} onto the disk"
	done <"$E2E_RUN/debs"
	log "on the disk: $(sed 's|.*/||' "$E2E_RUN/debs" | tr '\n' ' ')+ $_ekw_unit.service"
	printf 'before boot %s: onto the disk: %s+ %s.service\n' \
		"$((E2E_BOOTS + 1))" "$(sed 's|.*/||' "$E2E_RUN/debs" | tr '\n' ' ')" "$_ekw_unit" >>"$E2E_RUN/timeline"
}

# _e2e_proactive_prepare WITH_HEADERS: onto the run's root filesystem (debugfs, before the install
# boot): the .debs, the one-shot install unit (enabled) and the shutdown check's console drop-in.
_e2e_proactive_prepare() {
	_epp_fx=$E2E_REPO/Tests/Fixtures/e2e-proactive
	{
		_e2e_k3_commands "$1" /var/cache/e2e-proactive
		_e2e_debugfs_unit e2e-proactive "$_epp_fx"
		echo "mkdir /etc/systemd/system/kmodguard-shutdown.service.d"
		echo "write $_epp_fx/shutdown-console.conf /etc/systemd/system/kmodguard-shutdown.service.d/e2e.conf"
	} >"$E2E_RUN/debugfs.cmd"
	debugfs -w -f "$E2E_RUN/debugfs.cmd" "$E2E_FS_ROOT" >"$E2E_RUN/debugfs.log" 2>&1
	_e2e_k3_written /var/cache/e2e-proactive e2e-proactive /etc/systemd/system/kmodguard-shutdown.service.d/e2e.conf
}

# _e2e_proactive_start: the good state of `main`'s end (boot 3: the new kernel with its rebuilt
# driver, guard passed, status ok), by booting (boots 1-3) or from an earlier proactive
# scenario's copy of the disks after its boot 3. Returns 1 when it could not get there.
_e2e_proactive_start() {
	_e2e_guarded_run
	_eps_snap=$WORK/proactive-good-$SC_GEN-$SC_LAYOUT
	if [ -s "$_eps_snap/from" ]; then
		for _eps_img in "$_eps_snap"/*.img; do
			cp --sparse=always "$_eps_img" "$E2E_RUN/"
		done
		cat "$_eps_snap/timeline" >>"$E2E_RUN/timeline"
		printf 'boots 1-3 above: not run again; the disks are a copy of %s after its boot 3\n' \
			"$(cat "$_eps_snap/from")" >>"$E2E_RUN/timeline"
		E2E_BOOTS=3
		e2e_grubenv_read
		log "boots 1-3: starting from $(cat "$_eps_snap/from")'s disks after its boot 3"
		check "start: grubenv last good = new kernel" env_is kmodguard_last_good "$K_NEW"
		return 0
	fi
	_e2e_boot_guard_falls_back || return 1
	e2e_boot
	check "boot $BOOT_N: the old kernel boots, builds the new kernel's driver, reboots" boot_is "$K_OLD" reboot
	check "boot $BOOT_N: complete installs virtio_blk for the new kernel" console "$K_NEW: installed virtio_blk"
	boot_ended reboot || return 1
	e2e_boot
	check "boot $BOOT_N: the new kernel boots to the end" boot_is "$K_NEW" poweroff
	check "boot $BOOT_N: guard passes on the new kernel" console "kmodguard: kernel $K_NEW: .*: ok"
	check "boot $BOOT_N: status --json ok" json_is .ok true
	check "boot $BOOT_N: grubenv last good = new kernel" env_is kmodguard_last_good "$K_NEW"
	boot_ended poweroff || return 1
	if [ "$CHECK_FAILED" -eq "$SC_F0" ]; then
		mkdir -p "$_eps_snap"
		for _eps_img in "$E2E_RUN"/*.img; do
			cp --sparse=always "$_eps_img" "$_eps_snap/"
		done
		cp "$E2E_RUN/timeline" "$_eps_snap/timeline"
		printf '%s (%s, %s)\n' "$SC_NAME" "$SC_GEN" "$SC_LAYOUT" >"$_eps_snap/from"
	fi
}

# _e2e_install_boot: the boot that installs the packages (a longer watchdog: two initramfs
# builds in the guest), its $E2E_INSTALL_MARK marks (E2E-PROACTIVE, E2E-PACKAGE, E2E-MD) and the
# hooks' lines into the timeline. Each scenario sets E2E_INSTALL_MARK before its first install boot.
_e2e_install_boot() {
	_eib_timeout=$E2E_BOOT_TIMEOUT
	[ "$E2E_BOOT_TIMEOUT" -ge "$E2E_INSTALL_BOOT_TIMEOUT" ] || E2E_BOOT_TIMEOUT=$E2E_INSTALL_BOOT_TIMEOUT
	e2e_boot
	E2E_BOOT_TIMEOUT=$_eib_timeout
	{
		e2e_console_lines "$E2E_INSTALL_MARK " | sed "s/^.*$E2E_INSTALL_MARK /    install   /" | cut -c1-124
		_e2e_install_console '\[kmodguard\] |kmodguard: ' | sed 's/^.*\[kmodguard\] /    hook      /; s/^.*\(kmodguard: \)/    hook      \1/' | cut -c1-124
		e2e_console_lines '\[kmodguard\] (next boot|next_entry|prepare-shutdown)' |
			sed 's/^.*\[kmodguard\] //; s/^/    shutdown  /' | cut -c1-124
	} >>"$E2E_RUN/timeline"
}

# _e2e_install_console REGEX: console lines of the install boot between the install's begin and
# end marks (what dpkg and the kernel hooks printed) that match REGEX.
_e2e_install_console() {
	e2e_console_lines '.' | sed -n "/$E2E_INSTALL_MARK install-begin/,/$E2E_INSTALL_MARK install-end/p" |
		grep -a -E -e "$1" || :
}

# install_console REGEX: the install (dpkg, its hooks) printed a line matching REGEX.
install_console() {
	_e2e_install_console "$1" | grep -q . && return 0
	printf 'no line matching %s between the install marks; kmodguard lines there:\n' "$1"
	_e2e_install_console 'kmodguard'
	return 1
}

# no_install_console REGEX
no_install_console() {
	! _e2e_install_console "$1" | grep .
}

# not_root_has PATH
not_root_has() {
	! e2e_root_exists "$1" || {
		echo "on the root filesystem: $1"
		return 1
	}
}

# grubcfg_has REGEX: /boot/grub/grub.cfg on the disk has a line matching REGEX.
grubcfg_has() {
	rm -f "$WORK/grub.cfg"
	e2e_boot_dump /grub/grub.cfg "$WORK/grub.cfg" || {
		echo "no /boot/grub/grub.cfg on the disk"
		return 1
	}
	grep -E -q -e "$1" "$WORK/grub.cfg" && return 0
	echo "grub.cfg has no line matching $1"
	return 1
}

# env_not NAME VALUE: the variable is not VALUE in the last grubenv read.
env_not() {
	[ "$(e2e_env "$1")" != "$2" ] && return 0
	printf 'grubenv %s is still "%s"\n' "$1" "$2"
	return 1
}

# env_empty NAME: the variable is unset or empty in the last grubenv read.
env_empty() {
	case $(e2e_env "$1") in
	'' | '<unset>') return 0 ;;
	*) expect "grubenv $1" "$(e2e_env "$1")" "(unset or empty)" ;;
	esac
}

# _e2e_proactive_common WITH_HEADERS: start, put the packages on the disk, the install boot and
# the checks both scenarios share. Sets K3, P_K3.
_e2e_proactive_common() {
	K3=$E2E_K3
	E2E_INSTALL_MARK=E2E-PROACTIVE
	_e2e_proactive_start || return 1
	case $K3 in "$K_OLD" | "$K_NEW") die "E2E_K3 must differ from both image kernels ($K_OLD, $K_NEW)" ;; esac
	# Its full menu path, derived independently of the guest: same submenu, same fs uuid.
	P_K3=$(printf '%s\n' "$P_OLD" | sed "s/>gnulinux-$K_OLD-advanced-/>gnulinux-$K3-advanced-/")
	check "start: the third kernel $K3 is not installed" not_root_has "/lib/modules/$K3"
	_e2e_proactive_prepare "$1"

	# The install boot: the good kernel (GRUB's default), dpkg -i, grub-reboot, report, poweroff.
	_e2e_install_boot
	check "boot $BOOT_N: the new kernel (default) boots, the install runs, the report powers off" \
		boot_is "$K_NEW" poweroff
	check "boot $BOOT_N: guard passes" console "kmodguard: kernel $K_NEW: .*: ok"
	check "boot $BOOT_N: the guest installed $K3's package(s) with dpkg (exit 0)" \
		console "E2E-PROACTIVE install-end dpkg-exit=0"
	check "boot $BOOT_N: dpkg configured linux-image-$K3" install_console "Setting up linux-image-$K3 "
	check "disk: $K3 arrived without the in-tree virtio_blk.ko (dpkg path-exclude)" \
		not_root_has "/lib/modules/$K3/kernel/drivers/block/virtio_blk.ko"
	check "boot $BOOT_N: kmodguard's kernel hook ran during the install (complete --hook)" \
		install_console "\[kmodguard\] $K3: driver missing; building"
	check "boot $BOOT_N: update-grub after the hook: grub.cfg has $K3's entry" \
		grubcfg_has "menuentry_id_option 'gnulinux-$K3-advanced-"
	check "boot $BOOT_N: the guest's grub-reboot chose $K3" console "E2E-PROACTIVE grub-reboot exit=0 "
	check "boot $BOOT_N: report written" e2e_report_complete
	boot_ended poweroff || return 1
}

e2e_scenario_proactive() {
	_e2e_proactive_common 1 || return 0
	check "boot $BOOT_N: hook: virtio_blk installed for $K3" install_console "\[kmodguard\] $K3: installed virtio_blk"
	check "boot $BOOT_N: hook: $K3's initramfs rebuilt and verified" \
		install_console "\[kmodguard\] $K3: initramfs .* rebuilt and verified"
	check "boot $BOOT_N: the hook did not fail" no_install_console "could not prepare the driver"
	check "boot $BOOT_N: the hook did not reboot (never from a hook)" no_install_console "rebooting into"
	check "disk: virtio_blk.ko for $K3 in updates/kmodguard" \
		root_has "/lib/modules/$K3/updates/kmodguard/virtio_blk.ko"
	check "disk: $K3's initramfs holds the hook's virtio_blk.ko" initramfs_has "$K3" 'updates/kmodguard/virtio_blk\.ko'
	check "disk: $K3's initramfs holds kmodguard-early" initramfs_has "$K3" 'usr/sbin/kmodguard-early$'
	check "boot $BOOT_N: status --json (after the install): $K3's driver installed" \
		json_is "[.kernels[] | select(.release == \"$K3\") | .driver]" '["installed"]'
	check "boot $BOOT_N: shutdown check: $K3 has its driver, nothing to pin" \
		console "next boot: $K3 has its driver"
	check "boot $BOOT_N: grubenv next_entry = $K3's full menu path (grub-reboot)" env_is next_entry "$P_K3"
	check "boot $BOOT_N: grubenv no pin" env_is kmodguard_pin "<unset>"

	# The third kernel boots: its driver is there, the guard passes, no fallback.
	e2e_boot
	check "boot $BOOT_N: GRUB boots $K3 (next_entry), it runs to the end (poweroff by the report)" \
		boot_is "$K3" poweroff
	check "boot $BOOT_N: guard passes on $K3" console "kmodguard: kernel $K3: .*: ok"
	check "boot $BOOT_N: no fallback, no guard reboot" no_console 'kmodguard: (scheduling fallback|GIVING UP)|rebooting now'
	check "boot $BOOT_N: the initramfs did not wait for the root device" \
		no_console 'Gave up waiting for root|ALERT!|Dropping to a shell'
	check "boot $BOOT_N: report written" e2e_report_complete
	check "boot $BOOT_N: running $K3" report_is kernel "$K3"
	check "boot $BOOT_N: virtio_blk from updates/kmodguard (the hook's build)" \
		report_is virtio_blk_file "/lib/modules/$K3/updates/kmodguard/virtio_blk.ko"
	if [ "$SC_LAYOUT" = split ]; then _epr_root=/dev/vda1; else _epr_root=/dev/vda2; fi
	check "boot $BOOT_N: root filesystem on virtio" report_is root "$_epr_root"
	check "boot $BOOT_N: kmodguard-complete succeeded" \
		report_has unit.kmodguard-complete.service 'Result=success.*ExecMainStatus=0|ExecMainStatus=0.*Result=success'
	check "boot $BOOT_N: status --json ok" json_is .ok true
	check "boot $BOOT_N: status --json: all three kernels have their driver" \
		json_is '[([.kernels[].driver] | unique), (.kernels | length)]' '[["installed"],3]'
	check "boot $BOOT_N: status --json: running $K3" json_is .runningKernel "\"$K3\""
	check "boot $BOOT_N: status --json: no pin" json_is .pin null
	check "boot $BOOT_N: grubenv last good = $K3" env_is kmodguard_last_good "$K3"
	check "boot $BOOT_N: grubenv next_entry consumed" env_empty next_entry
	check "boot $BOOT_N: grubenv no pin" env_is kmodguard_pin "<unset>"
	check "5 boots; one guard fallback in all (boot 1's, before the install)" \
		expect "boots, guard reboots" "$E2E_BOOTS $(grep -c 'guard     rebooting now' "$E2E_RUN/timeline")" "5 1"
}

e2e_scenario_proactive_no_headers() {
	_e2e_proactive_common 0 || return 0
	check "boot $BOOT_N: hook: headers missing, named" \
		install_console "\[kmodguard\] $K3: kernel headers missing: apt-get install linux-headers-$K3"
	check "boot $BOOT_N: the kernel package installed anyway (hook never fails it)" \
		no_install_console "dpkg: error processing|subprocess .* returned error"
	check "disk: no virtio_blk.ko for $K3" not_root_has "/lib/modules/$K3/updates/kmodguard/virtio_blk.ko"
	check "disk: $K3's initramfs exists, without virtio_blk.ko" \
		eval "initramfs_has '$K3' 'usr/sbin/kmodguard-early\$' >/dev/null && ! initramfs_has '$K3' 'virtio_blk\\.ko'"
	check "boot $BOOT_N: status --json (after the install): $K3's driver headers-missing" \
		json_is "[.kernels[] | select(.release == \"$K3\") | .driver]" '["headers-missing"]'
	check "boot $BOOT_N: shutdown check: $K3 lacks its driver, the good kernel pinned" \
		console "next boot would pick $K3 without its driver: pinned $P_NEW"
	check "boot $BOOT_N: grubenv (after the shutdown) kmodguard_pin = the good kernel's full path" \
		env_is kmodguard_pin "$P_NEW"
	# docs/grub.md: a one-shot next_entry wins over the pin. The man page promises "pins the last
	# good kernel so the bad boot never happens": the next boot must not be K3.
	check "boot $BOOT_N: grubenv (after the shutdown) no next_entry left that boots $K3" \
		env_not next_entry "$P_K3"

	# The next boot: the pinned good kernel, not K3, and no guard fallback.
	e2e_boot
	check "boot $BOOT_N: GRUB boots the pinned good kernel (not $K3), to the end" boot_is "$K_NEW" poweroff
	check "boot $BOOT_N: no fallback, no guard reboot" no_console 'kmodguard: (scheduling fallback|GIVING UP)|rebooting now'
	if [ "$BOOT_KERNEL $BOOT_END" = "$K3 reboot" ]; then
		# The bad boot happened; the guard's fallback must still bring the good kernel back.
		check "boot $BOOT_N: $K3 without its driver: the guard falls back" \
			console "kmodguard: scheduling fallback to $K_NEW"
		e2e_boot
		check "boot $BOOT_N: after the fallback, the good kernel boots to the end" boot_is "$K_NEW" poweroff
	fi
	check "boot $BOOT_N: guard passes on the good kernel" console "kmodguard: kernel $K_NEW: .*: ok"
	check "boot $BOOT_N: report written" e2e_report_complete
	check "boot $BOOT_N: running the good kernel" report_is kernel "$K_NEW"
	check "boot $BOOT_N: status --json: $K3 headers-missing, with the package to install" \
		json_is "[.kernels[] | select(.release == \"$K3\") | (.driver + \" \" + (.message | test(\"apt-get install linux-headers-$K3\") | tostring))]" '["headers-missing true"]'
	check "boot $BOOT_N: status --json: the other kernels have their driver" \
		json_is "[.kernels[] | select(.release != \"$K3\") | .driver] | unique" '["installed"]'
	check "boot $BOOT_N: grubenv last good = the good kernel" env_is kmodguard_last_good "$K_NEW"
	check "$K3 never booted; one guard fallback in all (boot 1's); 5 boots" \
		expect "K3 boots, guard reboots, boots" \
		"$(grep -c "^boot [0-9]*: $K3" "$E2E_RUN/timeline") $(grep -c 'guard     rebooting now' "$E2E_RUN/timeline") $E2E_BOOTS" "0 1 5"
}
