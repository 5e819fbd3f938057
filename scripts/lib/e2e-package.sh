# shellcheck shell=sh
# Variables set here are read by scripts/e2e and e2e-scenarios.sh:
# shellcheck disable=SC2034
# e2e-package.sh - issue 12's scenario `package`: the Debian package as an admin uses it on a
# running server. Source after e2e-proactive.sh (its install boot and console helpers).
#
# The run starts from the control image (no kmodguard) whose newer kernel lacks its driver, so
# the admin picked the older kernel (next_entry, as grub-reboot sets it). In the guest,
# Tests/Fixtures/e2e-package/e2e-package does one step per boot:
#
#   boot 1  the older kernel: snapshot "before" (grub.cfg as this machine writes it, grubenv,
#           every initramfs's contents, the enabled units), apt-get install ./kmodguard_*.deb,
#           kmodguard.conf edited, update-initramfs -u -k all (dracut --regenerate-all)
#   then    kmodguard's story, on the state the package created, until the newer kernel runs
#           with the driver kmodguard built
#   boot N  that kernel: apt-get purge kmodguard, grub-reboot the older kernel
#   boot N+1 the older kernel: snapshot "after"
#
# The host compares "before" and "after": the older kernel's boot must be exactly as before the
# install. The newer kernel's image differs by the driver kmodguard built (it stays after a
# purge: README.Debian), and must not hold the guard.

E2E_ALL_SCENARIOS="$E2E_ALL_SCENARIOS package"

# _e2e_package_prepare: onto the run's disks before boot 1: the .deb, the settings, the step
# script and its unit (enabled), the completion's console drop-in; next_entry = the older kernel.
_e2e_package_prepare() {
	_epp_fx=$E2E_REPO/Tests/Fixtures/e2e-package
	{
		printf 'MODULES="virtio_blk"\nWAIT_FOR="UUID=%s"\nWAIT_TIMEOUT=20\n' "$E2E_ROOT_UUID"
		printf 'SOURCE="/usr/src/%s"\nACTIVATE="reboot"\n' "$E2E_DRIVER_NAME"
		[ "$SC_LAYOUT" != split ] || printf 'BOOT_DEVICE="UUID=%s"\n' "$E2E_BOOT_UUID"
	} >"$E2E_RUN/settings"
	printf '%s\n' "$K_NEW" >"$E2E_RUN/k-new"
	printf '%s\n' "$P_OLD" >"$E2E_RUN/p-old"
	printf 'install\n' >"$E2E_RUN/step"
	_epp_deb=kmodguard_$(dpkg-deb -f "$WORK/package/kmodguard.deb" Version)_$(dpkg-deb -f "$WORK/package/kmodguard.deb" Architecture).deb
	{
		echo "mkdir /var/cache/e2e-package"
		echo "write $WORK/package/kmodguard.deb /var/cache/e2e-package/$_epp_deb"
		for _epp_f in settings k-new p-old; do
			echo "write $E2E_RUN/$_epp_f /var/cache/e2e-package/$_epp_f"
		done
		echo "mkdir /var/lib/e2e-package"
		echo "write $E2E_RUN/step /var/lib/e2e-package/step"
		_e2e_debugfs_unit e2e-package "$_epp_fx"
		echo "mkdir /etc/systemd/system/kmodguard-complete.service.d"
		echo "write $E2E_REPO/Tests/Fixtures/e2e/complete-console.conf /etc/systemd/system/kmodguard-complete.service.d/e2e.conf"
	} >"$E2E_RUN/debugfs.cmd"
	debugfs -w -f "$E2E_RUN/debugfs.cmd" "$E2E_FS_ROOT" >"$E2E_RUN/debugfs.log" 2>&1
	for _epp_f in /var/lib/e2e-package/step /usr/local/sbin/e2e-package \
		/etc/systemd/system/multi-user.target.wants/e2e-package.service "/var/cache/e2e-package/$_epp_deb"; do
		e2e_root_exists "$_epp_f" || die "could not put $_epp_f onto the disk ($E2E_RUN/debugfs.log)"
	done
	[ "$(e2e_root_cat "/var/cache/e2e-package/$_epp_deb" | wc -c)" -eq "$(wc -c <"$WORK/package/kmodguard.deb")" ] ||
		die "could not copy $_epp_deb onto the disk"
	# The admin's choice of the older kernel, as grub-reboot writes it.
	e2e_grubenv_set "next_entry=$P_OLD"
	[ "$(e2e_env next_entry)" = "$P_OLD" ] || die "could not set next_entry on the disk ($E2E_RUN/debugfs.log)"
	printf 'before boot 1: onto the disk: %s, e2e-package.service; next_entry = K_OLD (the admin'"'"'s choice)\n' \
		"$_epp_deb" >>"$E2E_RUN/timeline"
}

# package_same NAME [WHAT]: the guest's snapshots before and after hold the same NAME.
package_same() {
	for _eps_when in before after; do
		e2e_root_cat "/var/lib/e2e-package/$_eps_when/$1" >"$E2E_RUN/$_eps_when-$1" 2>/dev/null
		e2e_root_exists "/var/lib/e2e-package/$_eps_when/$1" || {
			echo "no /var/lib/e2e-package/$_eps_when/$1 on the disk"
			return 1
		}
	done
	[ -s "$E2E_RUN/before-$1" ] || {
		echo "/var/lib/e2e-package/before/$1 is empty"
		return 1
	}
	diff -u "$E2E_RUN/before-$1" "$E2E_RUN/after-$1" | head -n 40
	cmp -s "$E2E_RUN/before-$1" "$E2E_RUN/after-$1"
}

# package_lacks NAME REGEX: the guest's "after" snapshot NAME has no line matching REGEX.
package_lacks() {
	e2e_root_cat "/var/lib/e2e-package/after/$1" >"$E2E_RUN/after-$1" 2>/dev/null
	[ -s "$E2E_RUN/after-$1" ] || {
		echo "no /var/lib/e2e-package/after/$1 on the disk"
		return 1
	}
	! grep -E -e "$2" "$E2E_RUN/after-$1"
}

e2e_scenario_package() {
	_e2e_guarded_run control
	check "image: kmodguard not installed" not_root_has /usr/sbin/kmodguard
	_e2e_package_prepare

	# Boot 1: the older kernel (the admin's choice); the package goes in.
	E2E_INSTALL_MARK=E2E-PACKAGE
	_e2e_install_boot
	check "boot $BOOT_N: the older kernel (next_entry) boots, the install runs, the report powers off" \
		boot_is "$K_OLD" poweroff
	check "boot $BOOT_N: no guard ran in the initramfs (not installed yet)" report_is early_result ""
	check "boot $BOOT_N: apt-get installed the .deb (exit 0)" console "E2E-PACKAGE apt-get install exit=0 "
	check "boot $BOOT_N: dpkg configured kmodguard" install_console "Setting up kmodguard "
	check "boot $BOOT_N: postinst: update-grub ran" install_console "Generating grub configuration file"
	check "boot $BOOT_N: dh_installsystemd enabled the units" \
		install_console "Created symlink .*multi-user.target.wants/kmodguard-complete.service"
	check "boot $BOOT_N: the initramfs images were rebuilt (exit 0)" console "E2E-PACKAGE initramfs exit=0 "
	check "boot $BOOT_N: status names the newer kernel's missing driver" \
		install_console "$K_NEW has no working virtio_blk"
	check "disk: /usr/sbin/kmodguard installed by dpkg" root_has /var/lib/dpkg/info/kmodguard.list
	check "disk: the newer kernel's initramfs holds kmodguard-early" \
		initramfs_has "$K_NEW" 'usr/sbin/kmodguard-early$'
	check "disk: grub.cfg has kmodguard's snippet" grubcfg_has '^### BEGIN /etc/grub.d/01_kmodguard'
	boot_ended poweroff || return 0

	# kmodguard's story, on the state its package created: every boot ends by itself, no
	# initramfs shell, until the newer kernel runs with the driver kmodguard built; then the
	# purge (the step script, on that boot).
	_epk_n=0
	while [ "$_epk_n" -lt 5 ]; do
		_epk_n=$((_epk_n + 1))
		_e2e_boot_by_itself _e2e_install_boot
		[ "$BOOT_END" = reboot ] || break
	done
	check "the story ends on the newer kernel, which purges kmodguard" boot_is "$K_NEW" poweroff
	boot_ended poweroff || return 0
	check "boot $BOOT_N: guard passed on the newer kernel" console "kmodguard: kernel $K_NEW: .*: ok"
	check "boot $BOOT_N: virtio_blk from updates/kmodguard" \
		report_is virtio_blk_file "/lib/modules/$K_NEW/updates/kmodguard/virtio_blk.ko"
	check "boot $BOOT_N: apt-get purge kmodguard (exit 0)" console "E2E-PACKAGE apt-get purge exit=0 "
	check "boot $BOOT_N: grub-reboot of the older kernel (exit 0)" console "E2E-PACKAGE grub-reboot exit=0 "
	check "disk: dpkg's file list and every file it listed are gone" \
		eval "! e2e_root_exists /var/lib/dpkg/info/kmodguard.list && ! e2e_root_exists /usr/sbin/kmodguard && ! e2e_root_exists /usr/sbin/kmodguard-early && ! e2e_root_exists /etc/grub.d/01_kmodguard"
	check "disk: configuration and state gone" \
		eval "! e2e_root_exists /etc/kmodguard && ! e2e_root_exists /var/lib/kmodguard"
	check "disk: the driver kmodguard built stays (the newer kernel boots from it)" \
		root_has "/lib/modules/$K_NEW/updates/kmodguard/virtio_blk.ko"
	check "disk: grubenv: no kmodguard_* variable" eval "! grep -a '^kmodguard_' '$E2E_GRUBENV'"

	# The older kernel again: exactly as before the install.
	e2e_boot
	check "boot $BOOT_N: the older kernel (grub-reboot) boots to the end" boot_is "$K_OLD" poweroff
	check "boot $BOOT_N: no guard ran" no_console 'kmodguard'
	check "boot $BOOT_N: report: kmodguard not installed" report_is kmodguard not-installed
	check "after the purge: grub.cfg exactly as before the install" package_same grub.cfg
	check "after the purge: grubenv exactly as before the install" package_same grubenv
	check "after the purge: the older kernel's initramfs exactly as before (modes, sizes, names)" \
		package_same "initrd-$K_OLD.list"
	check "after the purge: the newer kernel's initramfs has no guard (the driver kmodguard built stays)" \
		package_lacks "initrd-$K_NEW.list" 'kmodguard-early|kmodguard-hook|local-top/kmodguard|etc/kmodguard'
	check "after the purge: the enabled units exactly as before" package_same enabled-units
	check "boots: install, the story, the purge, the older kernel: no more than 6" \
		expect boots "$([ "$E2E_BOOTS" -le 6 ] && echo ok || echo "$E2E_BOOTS")" ok
}
