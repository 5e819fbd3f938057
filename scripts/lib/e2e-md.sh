# shellcheck shell=sh
# Variables set here are read by scripts/e2e and e2e-scenarios.sh:
# shellcheck disable=SC2034
# e2e-md.sh - issue 13's scenario `grubenv-grub-readonly`: /boot on md RAID1, where GRUB cannot
# save_env (its diskfilter layer has no write support) but Linux can (through /dev/mdX). Source
# after e2e-package.sh (the install boot, the console helpers, the settings).
#
# Split layout only: the run starts from the control image, whose /boot has its own NVMe disk.
# Two more NVMe disks (md-a.img, md-b.img; partitioned on the host: BIOS boot + Linux RAID) are
# attached, and on boot 1 (the older kernel, next_entry as the admin's grub-reboot wrote it) the
# guest does what an admin converting /boot to RAID1 does, then installs kmodguard
# (Tests/Fixtures/e2e-md/e2e-md), and goes off without an orderly shutdown (so
# kmodguard-shutdown's check pins nothing). The host has no md driver; it reads the array's
# filesystem off one member at the member's data offset (md v1.2 superblock), with debugfs.
# From boot 2 on the old /boot disk is gone: the machine boots from the two new disks.
#
#   boot 2  GRUB: the newer kernel is unverified, its automatic trial cannot be saved -> the
#           good entry (the older kernel), kmodguard.boot=fallback; complete builds, rebuilds the
#           newer initramfs, sets next_entry + arms the trial through Linux, reboots
#   boot 3  GRUB boots next_entry but cannot clear it; the newer kernel with its driver;
#           complete blesses the trial and clears the stale next_entry
#   boot 4  the newer kernel as GRUB's default: no save_env, no GRUB error; then the guest makes
#           its driver fail at run time (a modprobe.d option it refuses, initramfs rebuilt)
#   boot 5  the guard fails on the newer kernel; the array is already assembled (udev, mdadm's
#           rules in the initramfs; dracut: the guard waits for it in the initqueue, see
#           docs/initramfs.md), so it writes next_entry to grubenv on md and reboots
#   boot 6  next_entry (not cleared by GRUB): the older kernel; complete records the fallback,
#           clears next_entry, pins the older kernel

E2E_ALL_SCENARIOS="$E2E_ALL_SCENARIOS grubenv-grub-readonly"

E2E_MD_BOOT_UUID=5e2e0009-4b1d-4c2a-9e6f-0a1b2c3d4e09
E2E_MD_DISK_SIZE=512M

# _e2e_md_fs IMG: the debugfs spec (IMG?offset=N) of the filesystem on IMG's md member (partition
# 2, md superblock v1.2: 4 KiB into the member, magic a92b4efc, data_offset in sectors at byte 128).
_e2e_md_fs() {
	_emf_part=$(($(_e2e_part_start "$1" 2) * 512))
	_emf_magic=$(od -An -tx4 -j $((_emf_part + 4096)) -N 4 "$1" | tr -d ' ')
	[ "$_emf_magic" = a92b4efc ] || {
		echo "no md v1.2 superblock in partition 2 of $1 (magic '$_emf_magic')" >&2
		return 1
	}
	_emf_data=$(od -An -tu8 -j $((_emf_part + 4096 + 128)) -N 8 "$1" | tr -d ' ')
	printf '%s?offset=%s\n' "$1" $((_emf_part + _emf_data * 512))
}

# _e2e_md_prepare: the two new disks (partitioned), and onto the root filesystem: mdadm's .debs,
# kmodguard's .deb, the settings, the step script and its unit (enabled), the completion's console
# drop-in; next_entry = the older kernel (on the old /boot).
_e2e_md_prepare() {
	for _emp_d in md-a md-b; do
		truncate -s "$E2E_MD_DISK_SIZE" "$E2E_RUN/$_emp_d.img"
		sfdisk --quiet "$E2E_RUN/$_emp_d.img" <<EOF || die "sfdisk $_emp_d.img failed"
label: gpt
size=1MiB, type=21686148-6449-6E6F-744E-656564454649, name=bios
type=A19D880F-05FC-4D3B-A006-743F0F84911E, name=boot-raid
EOF
	done
	# mdadm depends on lsb-base (not in the minbase rootfs); the rest is there.
	_e2e_debs "$KMODGUARD_CACHE/e2e-debs/mdadm" mdadm lsb-base >"$E2E_RUN/debs" || die "no mdadm packages"
	{
		printf 'MODULES="virtio_blk"\nWAIT_FOR="UUID=%s"\nWAIT_TIMEOUT=20\n' "$E2E_ROOT_UUID"
		printf 'SOURCE="/usr/src/%s"\nACTIVATE="reboot"\n' "$E2E_DRIVER_NAME"
		printf 'BOOT_DEVICE="UUID=%s"\n' "$E2E_MD_BOOT_UUID"
	} >"$E2E_RUN/settings"
	printf '%s\n' "$E2E_MD_BOOT_UUID" >"$E2E_RUN/md-uuid"
	printf 'install\n' >"$E2E_RUN/step"
	printf '%s\n' "$K_NEW" >"$E2E_RUN/k-new"
	_emp_deb=kmodguard_$(dpkg-deb -f "$WORK/package/kmodguard.deb" Version)_$(dpkg-deb -f "$WORK/package/kmodguard.deb" Architecture).deb
	{
		echo "mkdir /var/cache/e2e-md"
		echo "mkdir /var/cache/e2e-md/debs"
		while read -r _emp_f; do
			echo "write $_emp_f /var/cache/e2e-md/debs/${_emp_f##*/}"
		done <"$E2E_RUN/debs"
		echo "write $WORK/package/kmodguard.deb /var/cache/e2e-md/$_emp_deb"
		echo "write $E2E_RUN/settings /var/cache/e2e-md/settings"
		echo "write $E2E_RUN/md-uuid /var/cache/e2e-md/md-uuid"
		echo "write $E2E_RUN/k-new /var/cache/e2e-md/k-new"
		echo "mkdir /var/lib/e2e-md"
		echo "write $E2E_RUN/step /var/lib/e2e-md/step"
		_e2e_debugfs_unit e2e-md "$E2E_REPO/Tests/Fixtures/e2e-md"
		echo "mkdir /etc/systemd/system/kmodguard-complete.service.d"
		echo "write $E2E_REPO/Tests/Fixtures/e2e/complete-console.conf /etc/systemd/system/kmodguard-complete.service.d/e2e.conf"
	} >"$E2E_RUN/debugfs.cmd"
	# shellcheck disable=SC2153 # set by e2e_run_start
	debugfs -w -f "$E2E_RUN/debugfs.cmd" "$E2E_FS_ROOT" >"$E2E_RUN/debugfs.log" 2>&1
	for _emp_f in /var/lib/e2e-md/step /usr/local/sbin/e2e-md /etc/systemd/system/multi-user.target.wants/e2e-md.service \
		"/var/cache/e2e-md/$_emp_deb"; do
		e2e_root_exists "$_emp_f" || die "could not put $_emp_f onto the disk ($E2E_RUN/debugfs.log)"
	done
	while read -r _emp_f; do
		[ "$(e2e_root_cat "/var/cache/e2e-md/debs/${_emp_f##*/}" | wc -c)" -eq "$(wc -c <"$_emp_f")" ] ||
			die "could not copy ${_emp_f##*/} onto the disk"
	done <"$E2E_RUN/debs"
	e2e_grubenv_set "next_entry=$P_OLD"
	[ "$(e2e_env next_entry)" = "$P_OLD" ] || die "could not set next_entry on the disk ($E2E_RUN/debugfs.log)"
	printf 'before boot 1: two new NVMe disks (md-a, md-b); onto the disk: %s, %s, e2e-md.service; next_entry = K_OLD\n' \
		"$(sed 's|.*/||' "$E2E_RUN/debs" | tr '\n' ' ')" "$_emp_deb" >>"$E2E_RUN/timeline"
}

# md_members_agree PATH: PATH (under /boot) is the same on both members of the array.
md_members_agree() {
	for _ema_d in md-a md-b; do
		rm -f "$E2E_RUN/$_ema_d.file"
		debugfs -R "dump $1 $E2E_RUN/$_ema_d.file" "$(_e2e_md_fs "$E2E_RUN/$_ema_d.img")" >/dev/null 2>&1
		[ -s "$E2E_RUN/$_ema_d.file" ] || {
			echo "no $1 on $_ema_d.img's member"
			return 1
		}
	done
	cmp "$E2E_RUN/md-a.file" "$E2E_RUN/md-b.file"
}

# grub_error_before_linux REGEX: GRUB printed an error matching REGEX before loading the kernel.
grub_error_before_linux() {
	e2e_console_lines '.' | sed '/Loading Linux /q' | grep -E -e "error: .*($1)" && return 0
	echo "no GRUB error matching $1 before 'Loading Linux'; GRUB's lines:"
	e2e_console_lines '.' | sed '/Loading Linux /q' | tail -n 10
	return 1
}

# _e2e_md_when: a timeline line: kernel time stamps of the guard's verdict, the md array's
# assembly and the root filesystem's mount (by the initramfs), so the timeline shows whether the
# array was there when the guard ran.
_e2e_md_when() {
	_emw() {
		e2e_console_lines "$1" | head -n 1 | sed -n 's/^\[ *\([0-9.]*\)\].*/\1/p'
	}
	printf '    md        guard at %s s, md array active at %s s, root mounted at %s s (kernel time)\n' \
		"$(_emw '\] kmodguard: kernel ')" "$(_emw 'md/raid1:md[0-9]+: active')" "$(_emw 'EXT4-fs \(vda1\): mounted')" \
		>>"$E2E_RUN/timeline"
}

# no_grub_error: GRUB printed no error before loading the kernel.
no_grub_error() {
	! e2e_console_lines '.' | sed '/Loading Linux /q' | grep -E 'error: '
}

e2e_scenario_grubenv_grub_readonly() {
	[ "$SC_LAYOUT" = split ] || die "grubenv-grub-readonly needs the split layout (scripts/e2e skips it for single)"
	_e2e_guarded_run control
	check "image: kmodguard not installed" not_root_has /usr/sbin/kmodguard
	_e2e_md_prepare

	# Boot 1: the older kernel; /boot to RAID1, kmodguard in; off without an orderly shutdown.
	E2E_INSTALL_MARK=E2E-MD
	E2E_NVME_DISKS="boot.img md-a.img md-b.img"
	_e2e_install_boot
	check "boot $BOOT_N: the older kernel (next_entry) boots, the conversion runs, the machine goes off" \
		boot_is "$K_OLD" poweroff
	check "boot $BOOT_N: mdadm installed (exit 0)" console "E2E-MD apt-get install mdadm exit=0 "
	check "boot $BOOT_N: mdadm --create RAID1 (exit 0)" console "E2E-MD mdadm create exit=0 "
	check "boot $BOOT_N: /boot copied to the array (exit 0)" console "E2E-MD copy /boot exit=0 "
	check "boot $BOOT_N: /boot is mounted from md, the UUID chosen" \
		console "E2E-MD /boot now: /dev/md[0-9a-z/]* +ext4 +$E2E_MD_BOOT_UUID"
	check "boot $BOOT_N: grub-install on both new disks (exit 0)" \
		expect "grub-install exit=0 lines" "$(e2e_console_lines 'E2E-MD grub-install /dev/nvme[0-9]+n1 exit=0 ' | wc -l)" 2
	check "boot $BOOT_N: apt-get installed kmodguard (exit 0)" console "E2E-MD apt-get install kmodguard exit=0 "
	check "boot $BOOT_N: the initramfs images were rebuilt (exit 0)" console "E2E-MD initramfs exit=0 "
	check "boot $BOOT_N: kmodguard status warns that GRUB cannot save_env on md RAID" \
		install_console "grubenv is on md RAID \(/dev/md[^)]*\): GRUB cannot save_env there"
	check "boot $BOOT_N: the array resynced, both members up" console "E2E-MD mdstat: md0 : active raid1 .*\[2/2\] \[UU\]"
	check "boot $BOOT_N: /boot read-only before the power went" console "E2E-MD remount ro exit=0 "
	boot_ended poweroff || return 0

	# The old /boot disk is gone: from now on GRUB and /boot are on the two new disks.
	E2E_NVME_DISKS="md-a.img md-b.img"
	E2E_FS_BOOT=$(_e2e_md_fs "$E2E_RUN/md-a.img") || {
		check "disk: md-a.img holds an md v1.2 member" false
		return 0
	}
	E2E_BOOT_PREFIX=
	e2e_grubenv_read
	printf 'after boot 1: boot.img removed; GRUB, /boot and grubenv on md RAID1 (md-a.img + md-b.img)\n    grubenv   %s\n' \
		"$(e2e_grubenv_short)" >>"$E2E_RUN/timeline"
	check "md: grubenv is a valid block" grubenv_valid
	check "md: grubenv: no kmodguard_* variable (nothing pinned: no orderly shutdown)" \
		eval "! grep -a '^kmodguard_' '$E2E_GRUBENV'"
	check "md: grubenv: next_entry cleared by GRUB on boot 1 (the old /boot was plain ext4)" env_is next_entry ""
	check "md: grub.cfg reads /boot through GRUB's mdraid1x" grubcfg_has "insmod mdraid1x"
	check "md: grub.cfg: 01_kmodguard noted that GRUB cannot save_env here" \
		grubcfg_has "^# GRUB cannot save_env to /boot/grub/grubenv here \(.*(diskfilter|mdraid)"
	check "md: grub.cfg: GRUB's fallback good entry = the old kernel's full path" \
		grubcfg_has "set kmodguard_good_entry=\"$P_OLD\""
	check "md: both members hold the same grub.cfg" md_members_agree /grub/grub.cfg

	# Boot 2: GRUB cannot record the newer kernel's automatic trial, so it boots the good entry.
	e2e_boot
	_e2e_md_when
	check "boot $BOOT_N: GRUB boots the older kernel; complete builds and reboots" boot_is "$K_OLD" reboot
	check "boot $BOOT_N: GRUB could not save the trial (save_env through md fails)" \
		grub_error_before_linux 'diskfilter writes are not supported|failure writing|save_env'
	check "boot $BOOT_N: GRUB fell back instead (kmodguard.boot=fallback)" \
		console "Command line: .*kmodguard\.boot=fallback"
	check "boot $BOOT_N: guard passes on the older kernel" console "kmodguard: kernel $K_OLD: .*: ok"
	check "boot $BOOT_N: complete installs virtio_blk for the newer kernel" console "$K_NEW: installed virtio_blk"
	check "boot $BOOT_N: complete rebuilds and verifies the newer initramfs" \
		console "$K_NEW: initramfs .* rebuilt and verified"
	check "boot $BOOT_N: complete reboots into the newer kernel" console "rebooting into $K_NEW"
	check "boot $BOOT_N: Linux wrote grubenv on md: next_entry = newer kernel" env_is next_entry "$P_NEW"
	check "boot $BOOT_N: grubenv trial armed for the newer kernel" \
		expect trial "$(e2e_env kmodguard_trial) $(e2e_env kmodguard_trial_kernel)" "armed $K_NEW"
	check "disk: the newer initramfs (on md) holds virtio_blk.ko" initramfs_has "$K_NEW" 'virtio_blk\.ko'
	check "md: both members hold the same grubenv" md_members_agree /grub/grubenv
	check "the newer kernel has not booted without its driver" \
		expect "K_NEW boots" "$(grep -c '^boot [0-9]*: K_NEW' "$E2E_RUN/timeline")" 0
	boot_ended reboot || return 0

	# Boot 3: next_entry (GRUB cannot clear it); the newer kernel with its driver; blessed.
	e2e_boot
	_e2e_md_when
	check "boot $BOOT_N: GRUB could not clear next_entry" \
		grub_error_before_linux 'diskfilter writes are not supported|failure writing|save_env'
	check "boot $BOOT_N: no kmodguard.boot=once (next_entry still on the disk)" \
		console "Command line: .*kmodguard\.boot=( |$)"
	_e2e_new_kernel_works
	check "boot $BOOT_N: report: /boot from the md array" report_has boot '^/dev/md'
	check "boot $BOOT_N: status --json warns that GRUB cannot save_env on md RAID" \
		json_is '[.warnings[] | select(test("md RAID.*GRUB cannot save_env"))] | length' 1
	check "boot $BOOT_N: complete cleared the next_entry GRUB could not clear" env_is next_entry "<unset>"
	boot_ended poweroff || return 0

	# Boot 4: the newer kernel as GRUB's default; nothing left for GRUB to write. Then the guest
	# makes that kernel's driver fail at run time on its next boot (it stays in the image).
	e2e_boot
	_e2e_md_when
	check "boot $BOOT_N: the newer kernel again, to the end" boot_is "$K_NEW" poweroff
	check "boot $BOOT_N: GRUB printed no error (nothing to save_env)" no_grub_error
	check "boot $BOOT_N: guard passes" console "kmodguard: kernel $K_NEW: .*: ok"
	check "boot $BOOT_N: status --json ok" json_is .ok true
	check "boot $BOOT_N: grubenv: no next_entry, no trial, last good = newer kernel" \
		expect grubenv "$(e2e_env next_entry) $(e2e_env kmodguard_trial) $(e2e_env kmodguard_last_good)" "<unset> <unset> $K_NEW"
	check "4 boots; the newer kernel never booted without its driver" \
		expect "boots, K_NEW reboots" "$E2E_BOOTS $(grep -c '^boot [0-9]*: K_NEW  reboot' "$E2E_RUN/timeline")" "4 0"
	check "boot $BOOT_N: the newer initramfs rebuilt with a virtio_blk option the module refuses (exit 0)" \
		console "E2E-MD break initramfs exit=0 "
	printf '    break     /etc/modprobe.d: options virtio_blk num_request_queues=e2e-not-a-number; newer initramfs rebuilt\n' \
		>>"$E2E_RUN/timeline"
	boot_ended poweroff || return 0

	# Boot 5: the driver is in the image but fails at run time. The array is assembled in the
	# initramfs before the guard runs (udev, mdadm's rules; with dracut the guard runs from the
	# initqueue once it exists): the guard reaches grubenv on md.
	e2e_boot --stop-on 'ALERT! |Dropping to a shell'
	_e2e_md_when
	check "boot $BOOT_N: GRUB boots the newer kernel, the guard reboots" boot_is "$K_NEW" reboot
	check "boot $BOOT_N: loading virtio_blk fails at run time" \
		console "kmodguard: kernel $K_NEW cannot reach its storage: virtio_blk"
	check "boot $BOOT_N: the array was assembled before the guard ran" \
		expect "md before guard" "$(e2e_console_lines 'md/raid1:md[0-9]+: active|\] kmodguard: ' | head -n 1 | grep -c 'md/raid1')" 1
	check "boot $BOOT_N: the guard schedules the older kernel through grubenv on md" \
		console "kmodguard: scheduling fallback to $K_OLD"
	check "boot $BOOT_N: grubenv (on md) next_entry = older kernel, failed = newer, attempts 1" \
		expect grubenv "$(e2e_env next_entry) $(e2e_env kmodguard_failed) $(e2e_env kmodguard_attempts)" "$P_OLD $K_NEW 1"
	check "boot $BOOT_N: the initramfs did not wait for the root device" \
		no_console 'Gave up waiting for root|ALERT!|Dropping to a shell'
	boot_ended reboot || return 0

	# Boot 6: next_entry again (GRUB cannot clear it): the older kernel; complete records the
	# fallback, clears next_entry and pins the older kernel.
	e2e_boot
	_e2e_md_when
	check "boot $BOOT_N: the older kernel, to the end" boot_is "$K_OLD" poweroff
	check "boot $BOOT_N: GRUB could not clear next_entry" \
		grub_error_before_linux 'diskfilter writes are not supported|failure writing|save_env'
	check "boot $BOOT_N: complete records the guard's fallback" console "recorded fallback: $K_NEW: virtio_blk"
	check "boot $BOOT_N: complete clears the next_entry GRUB could not clear" \
		console "next_entry .* booted this kernel; GRUB cannot clear it here"
	check "boot $BOOT_N: complete pins the older kernel" console "pinned $P_OLD"
	check "boot $BOOT_N: grubenv: no next_entry, pin = older kernel, no guard record left" \
		expect grubenv "$(e2e_env next_entry) $(e2e_env kmodguard_pin) $(e2e_env kmodguard_failed)" "<unset> $P_OLD <unset>"
	check "6 boots; the newer kernel booted once with a failing driver, one guard reboot" \
		expect "boots, K_NEW reboots" "$E2E_BOOTS $(grep -c '^boot [0-9]*: K_NEW  reboot' "$E2E_RUN/timeline")" "6 1"
}
