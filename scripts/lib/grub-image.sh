# shellcheck shell=sh
# grub-image.sh - a small BIOS disk image with Debian 12's real GRUB, for scripts/test-grub.
# Source it after common.sh:
#
#   . "$ROOT/scripts/lib/common.sh"
#   . "$ROOT/scripts/lib/grub-image.sh"
#   dir=$(grub_image "$ROOT")     # prints a cache directory holding:
#
#   boot.img          64 MiB raw GPT disk: partition 1 "BIOS boot" (GRUB's core.img, written
#                     by grub-install --target=i386-pc), partition 2 ext4 = /boot with
#                     grub/grub.cfg (default.cfg), grub/grubenv, grub/i386-pc/*.mod and empty
#                     vmlinuz/initrd.img files of 6.1.0-55- and 6.1.0-56-cloud-amd64
#   default.cfg       grub.cfg from the real update-grub with /etc/grub.d/01_kmodguard and
#                     /etc/default/grub.d/kmodguard.cfg installed; the stand-in kmodguard's
#                     `check --kernel K` passes for both kernels
#   saved.cfg         the same with GRUB_DEFAULT=saved and GRUB_SAVEDEFAULT=true
#   unconfigured.cfg  the same as default.cfg but without /etc/kmodguard/kmodguard.conf
#   auto.cfg          the same as default.cfg, but 6.1.0-56's check fails: the automatic trial
#   none.cfg          the same as default.cfg, but both checks fail: no generated good entry
#   build.log         update-grub and grub-install output
#
# All three grub.cfg variants have GRUB_TIMEOUT=0 and a serial terminal (COM1, 115200 8N1).
#
# How (the ideas of Tests/Fixtures/grub/regenerate.sh): common.sh's debian_root makes a minbase
# bookworm rootfs with grub-pc and udev, from the host's own apt sources (cached as a tarball). Two
# sparse image files are attached with losetup: the boot disk above and a scratch root disk
# (1 GiB, one ext4 partition, thrown away afterwards). In a private mount namespace a tmpfs
# replaces /dev with nodes named like real disks (/dev/sda* = boot disk, /dev/sdb1 = root) and
# the /dev/disk/by-uuid links udev would make (grub-probe reports the device named in
# /proc/self/mountinfo, guesses BIOS drive hd0 from "sda", and asks `udevadm info` - installed
# in the rootfs, udevd never runs - for partition starts). The rootfs is unpacked onto sdb1,
# sda2 is mounted on its /boot, and `chroot ... update-grub` and `grub-install
# --target=i386-pc /dev/sda` run unmodified. Nothing outside the namespace is mounted.
#
# The image is rebuilt only when its inputs change: the rootfs (suite, packages, the host's
# apt sources), grub.d/01_kmodguard, etc/kmodguard.conf and this file. Cold: ~1-2 min
# (mmdebstrap downloads ~60 MB); warm: instant.

GRUB_IMAGE_SUITE=${KMODGUARD_GRUB_SUITE:-bookworm}
GRUB_IMAGE_KERNELS='6.1.0-55-cloud-amd64 6.1.0-56-cloud-amd64'

# Fixed identifiers (the same as Tests/Fixtures/grub, so menu entry ids match those fixtures).
GRUB_IMAGE_ROOT_UUID=3f1c2b9e-5d47-4a8e-9b61-2c0d7e4a8f15
GRUB_IMAGE_BOOT_UUID=8a6e4d20-1b3c-4f5e-a7d9-0c2b4e6f8a13
GRUB_IMAGE_DISK_ID=6C2E4A1B-3D5F-4E7A-9B8C-0D1E2F3A4B5C
GRUB_IMAGE_BIOS_PARTUUID=7d8e9fa0-1b2c-4d3e-8f4a-5b6c7d8e9f01
GRUB_IMAGE_BOOT_PARTUUID=2d3e4f5a-6b7c-4d8e-9fa0-1b2c3d4e5f60
GRUB_IMAGE_ROOT_DISK_ID=1A2B3C4D-5E6F-4A7B-8C9D-0E1F2A3B4C5D
GRUB_IMAGE_ROOT_PARTUUID=1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f

# The settings every rendered grub.cfg gets (/etc/default/grub.d/kmodguard-test.cfg).
GRUB_IMAGE_SETTINGS='GRUB_TIMEOUT=0
GRUB_TIMEOUT_STYLE=hidden
GRUB_TERMINAL=serial
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200 --word=8 --parity=no --stop=1"
GRUB_CMDLINE_LINUX_DEFAULT="console=ttyS0,115200"'

_gi_sha() {
	sha256sum | cut -c1-16
}

# grub_image_rootfs: print the path of the cached rootfs tarball, making it if needed.
grub_image_rootfs() {
	debian_root_tar "$KMODGUARD_CACHE/grub-test/rootfs-$GRUB_IMAGE_SUITE" 16 "$GRUB_IMAGE_SUITE
minbase
grub-pc,udev" "$GRUB_IMAGE_SUITE" --variant=minbase --include=grub-pc,udev
}

# grub_image ROOT: print the cache directory of the image built from repository ROOT.
grub_image() {
	_gi_root=$1
	_gi_rootfs=$(grub_image_rootfs) || exit 1
	_gi_key=$({
		printf '%s\n%s\n%s\n' "$_gi_rootfs" "$GRUB_IMAGE_KERNELS" "$GRUB_IMAGE_SETTINGS"
		cat "$_gi_root/grub.d/01_kmodguard" "$_gi_root/etc/kmodguard.conf" \
			"$_gi_root/etc/default/grub.d/kmodguard.cfg" "$_gi_root/scripts/lib/grub-image.sh"
	} | _gi_sha)
	_gi_dir=$KMODGUARD_CACHE/grub-test/image-$_gi_key
	if [ ! -s "$_gi_dir/boot.img" ]; then
		for _gi_old in "$KMODGUARD_CACHE/grub-test"/image-*; do
			[ -d "$_gi_old" ] && rm -rf "$_gi_old"
		done
		log "building the GRUB test image (update-grub, grub-install in a chroot)"
		_grub_image_build "$_gi_root" "$_gi_rootfs" "$_gi_dir.tmp" || die "GRUB image build failed"
		mv "$_gi_dir.tmp" "$_gi_dir"
	fi
	printf '%s\n' "$_gi_dir"
}

# _grub_image_build ROOT ROOTFS_TAR OUTDIR (host side).
_grub_image_build() {
	_gb_out=$3
	rm -rf "$_gb_out"
	mkdir -p "$_gb_out"
	_gb_work=$(mktemp -d "${TMPDIR:-/tmp}/kmodguard-grub-image.XXXXXX") || return 1
	_gb_boot_loop=
	_gb_root_loop=
	# shellcheck disable=SC2064 # expand now: the trap must see these paths later
	trap "_grub_image_detach; rm -rf '$_gb_work'" EXIT

	gpt_image "$_gb_out/boot.img" 64M "$GRUB_IMAGE_DISK_ID" "bios:$GRUB_IMAGE_BIOS_PARTUUID" \
		"boot:$GRUB_IMAGE_BOOT_PARTUUID" || return 1
	gpt_image "$_gb_work/root.img" 1G "$GRUB_IMAGE_ROOT_DISK_ID" "root:$GRUB_IMAGE_ROOT_PARTUUID" ||
		return 1
	_gb_boot_loop=$(loop_attach "$_gb_out/boot.img" 2) || return 1
	_gb_root_loop=$(loop_attach "$_gb_work/root.img" 1) || return 1
	mkfs.ext4 -q -F -b 4096 -U "$GRUB_IMAGE_BOOT_UUID" -L boot "${_gb_boot_loop}p2" || return 1
	mkfs.ext4 -q -F -U "$GRUB_IMAGE_ROOT_UUID" -L root "${_gb_root_loop}p1" || return 1

	KMG_SDA=$(loop_devnum "$_gb_boot_loop") KMG_SDA1=$(loop_devnum "$_gb_boot_loop" 1)
	KMG_SDA2=$(loop_devnum "$_gb_boot_loop" 2)
	KMG_SDB=$(loop_devnum "$_gb_root_loop") KMG_SDB1=$(loop_devnum "$_gb_root_loop" 1)
	KMG_WORK=$_gb_work
	KMG_OUT=$_gb_out
	KMG_ROOTFS_TAR=$2
	KMG_REPO=$1
	export KMG_SDA KMG_SDA1 KMG_SDA2 KMG_SDB KMG_SDB1 KMG_WORK KMG_OUT KMG_ROOTFS_TAR KMG_REPO
	# shellcheck disable=SC2016 # expanded by the inner shell
	if ! unshare --mount --propagation private sh -c \
		'. "$1/scripts/lib/common.sh" && . "$1/scripts/lib/grub-image.sh" && _grub_image_inside' \
		sh "$1" >"$_gb_out/build.log" 2>&1; then
		cat "$_gb_out/build.log" >&2
		return 1
	fi
	_grub_image_detach
	rm -rf "$_gb_work"
	trap - EXIT
}

_grub_image_detach() {
	# shellcheck disable=SC2086 # the ones attached so far
	loop_detach $_gb_boot_loop $_gb_root_loop
	_gb_boot_loop=
	_gb_root_loop=
}

# _gi_update_grub NAME: run the chroot's update-grub, keep grub.cfg as $KMG_OUT/NAME.cfg.
_gi_update_grub() {
	log "update-grub ($1)"
	chroot "$_gi_chroot" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 \
		/usr/sbin/update-grub || die "update-grub ($1) failed"
	cp "$_gi_chroot/boot/grub/grub.cfg" "$KMG_OUT/$1.cfg"
	chmod 0644 "$KMG_OUT/$1.cfg"
}

# Runs inside `unshare --mount`: every mount made here disappears with the namespace.
_grub_image_inside() {
	set -eu
	_gi_chroot=$KMG_WORK/root
	namespace_dev kmodguard-grub-dev
	namespace_block_node sda "$KMG_SDA"
	namespace_block_node sda1 "$KMG_SDA1"
	namespace_block_node sda2 "$KMG_SDA2"
	namespace_block_node sdb "$KMG_SDB"
	namespace_block_node sdb1 "$KMG_SDB1"
	mkdir -p /dev/disk/by-uuid /dev/disk/by-partuuid "$_gi_chroot" "$KMG_WORK/bootfs"
	ln -s ../../sda2 "/dev/disk/by-uuid/$GRUB_IMAGE_BOOT_UUID"
	ln -s ../../sdb1 "/dev/disk/by-uuid/$GRUB_IMAGE_ROOT_UUID"
	ln -s ../../sda1 "/dev/disk/by-partuuid/$GRUB_IMAGE_BIOS_PARTUUID"
	ln -s ../../sda2 "/dev/disk/by-partuuid/$GRUB_IMAGE_BOOT_PARTUUID"
	ln -s ../../sdb1 "/dev/disk/by-partuuid/$GRUB_IMAGE_ROOT_PARTUUID"

	mount /dev/sdb1 "$_gi_chroot"
	tar -xpf "$KMG_ROOTFS_TAR" -C "$_gi_chroot" --numeric-owner
	mount /dev/sda2 "$KMG_WORK/bootfs"
	cp -a "$_gi_chroot/boot/." "$KMG_WORK/bootfs/"
	umount "$KMG_WORK/bootfs"
	mount /dev/sda2 "$_gi_chroot/boot"
	namespace_chroot_mounts "$_gi_chroot" sda sdb

	install -m 0755 "$KMG_REPO/grub.d/01_kmodguard" "$_gi_chroot/etc/grub.d/01_kmodguard"
	# 01_kmodguard prints nothing without the program, and asks it which kernels have their
	# driver (`kmodguard check --kernel K`): a stand-in answers from a list of failing kernels.
	cat >"$_gi_chroot/usr/sbin/kmodguard" <<'EOF'
#!/bin/sh
# Test stand-in: `check --kernel K` fails for the kernels in /etc/kmodguard/test-unverified.
[ "$1 $2" = "check --kernel" ] || exit 0
! grep -qx -- "$3" /etc/kmodguard/test-unverified 2>/dev/null
EOF
	chmod 0755 "$_gi_chroot/usr/sbin/kmodguard"
	mkdir -p "$_gi_chroot/etc/kmodguard" "$_gi_chroot/etc/default/grub.d"
	printf '%s\n' "$GRUB_IMAGE_SETTINGS" >"$_gi_chroot/etc/default/grub.d/kmodguard-test.cfg"
	# Sourced after kmodguard-test.cfg ("-" sorts before "."): appends to its command line.
	install -m 0644 "$KMG_REPO/etc/default/grub.d/kmodguard.cfg" \
		"$_gi_chroot/etc/default/grub.d/kmodguard.cfg"
	for _gi_kver in $GRUB_IMAGE_KERNELS; do
		for _gi_file in vmlinuz initrd.img config System.map; do
			: >"$_gi_chroot/boot/$_gi_file-$_gi_kver"
		done
	done

	_gi_update_grub unconfigured
	install -m 0644 "$KMG_REPO/etc/kmodguard.conf" "$_gi_chroot/etc/kmodguard/kmodguard.conf"
	printf 'GRUB_DEFAULT=saved\nGRUB_SAVEDEFAULT=true\n' \
		>"$_gi_chroot/etc/default/grub.d/kmodguard-test-saved.cfg"
	_gi_update_grub saved
	rm "$_gi_chroot/etc/default/grub.d/kmodguard-test-saved.cfg"
	echo 6.1.0-56-cloud-amd64 >"$_gi_chroot/etc/kmodguard/test-unverified"
	_gi_update_grub auto
	echo 6.1.0-55-cloud-amd64 >>"$_gi_chroot/etc/kmodguard/test-unverified"
	_gi_update_grub none
	rm "$_gi_chroot/etc/kmodguard/test-unverified"
	_gi_update_grub default

	log "grub-install --target=i386-pc /dev/sda"
	chroot "$_gi_chroot" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 \
		/usr/sbin/grub-install --target=i386-pc /dev/sda || die "grub-install failed"
	[ -s "$_gi_chroot/boot/grub/grubenv" ] ||
		chroot "$_gi_chroot" /usr/bin/grub-editenv /boot/grub/grubenv create
	ls -l "$_gi_chroot/boot" "$_gi_chroot/boot/grub"
	sync
	namespace_chroot_umounts "$_gi_chroot"
	umount "$_gi_chroot/boot" "$_gi_chroot"
}
