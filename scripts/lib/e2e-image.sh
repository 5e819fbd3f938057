# shellcheck shell=sh
# Variables set here are read by the caller and by the namespace helpers:
# shellcheck disable=SC2034
# e2e-image.sh - the Debian 12 disk images of scripts/e2e. Source after common.sh:
#
#   . "$ROOT/scripts/lib/common.sh"
#   . "$ROOT/scripts/lib/e2e-image.sh"
#   e2e_kernels                              # sets E2E_K_OLD, E2E_K_NEW
#   dir=$(e2e_image GEN LAYOUT control)      # no kmodguard
#   dir=$(e2e_image GEN LAYOUT guarded DEB)  # DEB: kmodguard's .deb (scripts/package)
#   dir=$(e2e_image GEN LAYOUT broken DEB)   # guarded, but the older kernel's initramfs was
#                                            # built while its driver was missing
#   dir=$(e2e_image GEN LAYOUT two-modules DEB) # guarded, MODULES="dm_mod virtio_blk"
#
# GEN is initramfs-tools or dracut (the packages conflict: one rootfs each), LAYOUT split or
# single. Each image directory holds raw disk files and "meta" (shell assignments: layout,
# kernels, UUIDs, GRUB menu paths). Three cached layers under $KMODGUARD_CACHE/e2e:
#
#   rootfs-GEN-KEY.tar   debian_root (common.sh: mmdebstrap) minbase bookworm from the host's
#                        own apt sources:
#                        systemd-sysv udev kmod zstd lz4 e2fsprogs grub-pc libcurl4
#                        build-essential, both kernels + headers, GEN
#   base-GEN-LAYOUT-KEY/ the disks: rootfs on ext4, in-tree virtio_blk.ko deleted from both
#                        kernels, virtio_blk built (in the chroot) for the OLDER kernel only
#                        (updates/dkms), its source in /usr/src, initramfs for both, GRUB
#                        installed for real (i386-pc) + update-grub; the report unit. = the
#                        control image: what a machine without kmodguard looks like
#   guarded-GEN-LAYOUT-KEY/ a copy of base + the .deb installed with apt-get (scripts/install
#                        --root: its postinst enables the units, runs update-grub), kmodguard.conf
#                        edited (MODULES, WAIT_FOR, SOURCE, ACTIVATE, BOOT_DEVICE when split),
#                        initramfs rebuilt with the guard, update-grub (README's steps); grubenv
#                        untouched
#
# Layouts: split = boot.img (NVMe in QEMU, SeaBIOS boots it: BIOS boot partition + ext4 /boot
# with GRUB and grubenv) + root.img (virtio: ext4 /); single = root.img only (virtio: BIOS boot
# partition + ext4 / holding /boot).
#
# How GRUB gets installed for real (as lib/grub-image.sh does, with common.sh's gpt_image,
# loop_* and namespace_* helpers): the disks are attached with losetup; in a private mount namespace a tmpfs replaces
# /dev with nodes named like real disks (sda = the disk GRUB goes on, sdb = the split root) and
# the /dev/disk/by-uuid links udev would make, and a fake /sys/block gives grub-probe the disk
# vendor it asks for. Then `chroot ... update-grub` and `grub-install --target=i386-pc /dev/sda`
# run unmodified. Nothing outside the namespace is mounted.

E2E_SUITE=${KMODGUARD_E2E_SUITE:-bookworm}
# Bump when a recipe changes in a way the keys below do not see.
E2E_ROOTFS_RECIPE=1
E2E_IMAGE_RECIPE=1

E2E_ROOT_UUID=5e2e0001-4b1d-4c2a-9e6f-0a1b2c3d4e01
E2E_BOOT_UUID=5e2e0002-4b1d-4c2a-9e6f-0a1b2c3d4e02
E2E_ROOT_DISK_ID=5E2E0003-4B1D-4C2A-9E6F-0A1B2C3D4E03
E2E_BOOT_DISK_ID=5E2E0004-4B1D-4C2A-9E6F-0A1B2C3D4E04
E2E_BIOS_PARTUUID=5e2e0005-4b1d-4c2a-9e6f-0a1b2c3d4e05
E2E_BOOT_PARTUUID=5e2e0006-4b1d-4c2a-9e6f-0a1b2c3d4e06
E2E_ROOT_PARTUUID=5e2e0007-4b1d-4c2a-9e6f-0a1b2c3d4e07

# Initramfs compression in the guest (lz4: cheaper under TCG than Debian's zstd).
: "${E2E_COMPRESS:=lz4}"

E2E_BOOT_SIZE=512M
E2E_ROOT_SIZE=6G

_e2e_sha() {
	sha256sum | cut -c1-12
}

# e2e_kernels: E2E_K_OLD, E2E_K_NEW from scripts/fixture-kernels (it downloads them once).
e2e_kernels() {
	_ek_fixture=$("$E2E_REPO/scripts/fixture-kernels" | tail -n 1) || die "scripts/fixture-kernels failed"
	E2E_K_OLD=$(sed -n 's/^K_OLD=//p' "$_ek_fixture/.kmodguard-fixture")
	E2E_K_NEW=$(sed -n 's/^K_NEW=//p' "$_ek_fixture/.kmodguard-fixture")
	{ [ -n "$E2E_K_OLD" ] && [ -n "$E2E_K_NEW" ]; } || die "no kernels in $_ek_fixture/.kmodguard-fixture"
}

# e2e_driver_source: E2E_DRIVER_DIR (the virtio_blk-VERSION tree) from scripts/driver-sources.
e2e_driver_source() {
	_ed_dir=$("$E2E_REPO/scripts/driver-sources" | tail -n 1) || die "scripts/driver-sources failed"
	E2E_DRIVER_DIR=$(awk '$1 == "virtio_blk" { print $3; exit }' "$_ed_dir/sources.txt")
	[ -f "$E2E_DRIVER_DIR/dkms.conf" ] || die "no virtio_blk tree in $_ed_dir/sources.txt"
	E2E_DRIVER_NAME=${E2E_DRIVER_DIR##*/}
	# NAME-VERSION as dkms.conf says (the database's name for it).
	E2E_DRIVER_PACKAGE=$(sed -n 's/^PACKAGE_NAME="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$E2E_DRIVER_DIR/dkms.conf")-$(
		sed -n 's/^PACKAGE_VERSION="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$E2E_DRIVER_DIR/dkms.conf")
}

_e2e_packages() {
	printf '%s' "systemd-sysv,udev,kmod,zstd,lz4,e2fsprogs,grub-pc,libcurl4,build-essential"
	printf ',%s' "linux-image-$E2E_K_OLD" "linux-image-$E2E_K_NEW" \
		"linux-headers-$E2E_K_OLD" "linux-headers-$E2E_K_NEW"
	case $1 in
	dracut) printf ',dracut' ;;
	*) printf ',initramfs-tools' ;;
	esac
}

# e2e_rootfs GEN: print the cached rootfs tarball, making it (common.sh's debian_root) if needed.
e2e_rootfs() {
	_er_pkgs=$(_e2e_packages "$1")
	debian_root_tar "$KMODGUARD_CACHE/e2e/rootfs-$1" 12 "$E2E_SUITE
$E2E_ROOTFS_RECIPE
$_er_pkgs" "$E2E_SUITE" --variant=minbase --include="$_er_pkgs" \
		--dpkgopt='path-exclude=/usr/share/man/*' \
		--dpkgopt='path-exclude=/usr/share/doc/*' \
		--dpkgopt='path-include=/usr/share/doc/*/copyright' \
		--dpkgopt='path-exclude=/usr/share/locale/*'
}

# _e2e_files_sha DIR...: a digest of the contents of every file under DIR (names and bytes).
_e2e_files_sha() {
	find "$@" -type f -print | LC_ALL=C sort | while read -r _ef; do
		printf '%s %s\n' "$_ef" "$(sha256sum <"$_ef" | cut -c1-64)"
	done | _e2e_sha
}

# e2e_image GEN LAYOUT control|guarded|broken|two-modules [DEB]: print the image directory,
# building it if needed.
e2e_image() {
	_ei_gen=$1 _ei_layout=$2 _ei_kind=$3 _ei_deb=${4:-}
	_ei_rootfs=$(e2e_rootfs "$_ei_gen") || exit 1
	_ei_base_key=$({
		printf '%s\n' "$_ei_rootfs" "$_ei_layout" "$E2E_IMAGE_RECIPE" "$E2E_K_OLD" "$E2E_K_NEW" \
			"$E2E_DRIVER_NAME" "$E2E_COMPRESS"
		_e2e_files_sha "$E2E_DRIVER_DIR" "$E2E_REPO/Tests/Fixtures/e2e"
		cat "$E2E_REPO/scripts/lib/e2e-image.sh"
	} | _e2e_sha)
	_ei_base=$KMODGUARD_CACHE/e2e/base-$_ei_gen-$_ei_layout-$E2E_COMPRESS-$_ei_base_key
	if [ ! -s "$_ei_base/meta" ]; then
		rm -rf "$KMODGUARD_CACHE/e2e/base-$_ei_gen-$_ei_layout-"*
		log "building the $_ei_gen/$_ei_layout base image (no kmodguard): rootfs, driver for $E2E_K_OLD, initramfs, GRUB"
		_ei_t0=$(date +%s)
		_e2e_build base "$_ei_gen" "$_ei_layout" "$_ei_rootfs" "$_ei_base.tmp" "$_ei_base.tmp" ||
			die "base image build failed (log: $_ei_base.tmp/build.log)"
		mv "$_ei_base.tmp" "$_ei_base"
		log "base image $_ei_gen/$_ei_layout: $(($(date +%s) - _ei_t0)) s"
	fi
	if [ "$_ei_kind" = control ]; then
		printf '%s\n' "$_ei_base"
		return 0
	fi
	_ei_key=$({
		printf '%s\n' "$_ei_base"
		_e2e_files_sha "$_ei_deb" "$E2E_REPO/scripts/install"
	} | _e2e_sha)
	_ei_dir=$KMODGUARD_CACHE/e2e/$_ei_kind-$_ei_gen-$_ei_layout-$E2E_COMPRESS-$_ei_key
	if [ ! -s "$_ei_dir/meta" ]; then
		rm -rf "$KMODGUARD_CACHE/e2e/$_ei_kind-$_ei_gen-$_ei_layout-"*
		log "building the $_ei_gen/$_ei_layout $_ei_kind image: apt-get install ${_ei_deb##*/}, kmodguard.conf, initramfs with the guard"
		_ei_t0=$(date +%s)
		mkdir -p "$_ei_dir.tmp"
		for _ei_f in "$_ei_base"/*.img "$_ei_base/meta"; do
			cp --sparse=always "$_ei_f" "$_ei_dir.tmp/"
		done
		E2E_DEB=$_ei_deb E2E_VARIANT=$_ei_kind
		_e2e_build guarded "$_ei_gen" "$_ei_layout" "$_ei_rootfs" "$_ei_dir.tmp" "$_ei_dir.tmp" ||
			die "$_ei_kind image build failed (log: $_ei_dir.tmp/build.log)"
		mv "$_ei_dir.tmp" "$_ei_dir"
		log "$_ei_kind image $_ei_gen/$_ei_layout: $(($(date +%s) - _ei_t0)) s"
	fi
	printf '%s\n' "$_ei_dir"
}

# _e2e_build base|guarded GEN LAYOUT ROOTFS_TAR DIR: make (base: partition, mkfs, fill) or
# change (guarded) the disks in DIR; the work runs in a private mount namespace.
_e2e_build() {
	_eb_step=$1 _eb_gen=$2 _eb_layout=$3 _eb_dir=$5
	mkdir -p "$_eb_dir"
	_eb_work=$(mktemp -d "${TMPDIR:-/tmp}/kmodguard-e2e-image.XXXXXX") || return 1
	_eb_loops=
	# shellcheck disable=SC2064 # expand now: the trap must see these paths later
	trap "_e2e_detach; rm -rf '$_eb_work'" EXIT
	if [ "$_eb_step" = base ]; then
		_e2e_partition "$_eb_layout" "$_eb_dir" || return 1
	fi
	if [ "$_eb_layout" = split ]; then
		_eb_boot_loop=$(loop_attach "$_eb_dir/boot.img" 2) || return 1
		_eb_loops=$_eb_boot_loop
		_eb_root_loop=$(loop_attach "$_eb_dir/root.img" 1) || return 1
		_eb_loops="$_eb_loops $_eb_root_loop"
		E2E_SDA=$(loop_devnum "$_eb_boot_loop") E2E_SDA1=$(loop_devnum "$_eb_boot_loop" 1)
		E2E_SDA2=$(loop_devnum "$_eb_boot_loop" 2)
		E2E_SDB=$(loop_devnum "$_eb_root_loop") E2E_SDB1=$(loop_devnum "$_eb_root_loop" 1)
		if [ "$_eb_step" = base ]; then
			mkfs.ext4 -q -F -b 4096 -U "$E2E_BOOT_UUID" -L e2e-boot "${_eb_boot_loop}p2" || return 1
			mkfs.ext4 -q -F -U "$E2E_ROOT_UUID" -L e2e-root "${_eb_root_loop}p1" || return 1
		fi
	else
		_eb_root_loop=$(loop_attach "$_eb_dir/root.img" 2) || return 1
		_eb_loops=$_eb_root_loop
		E2E_SDA=$(loop_devnum "$_eb_root_loop") E2E_SDA1=$(loop_devnum "$_eb_root_loop" 1)
		E2E_SDA2=$(loop_devnum "$_eb_root_loop" 2)
		E2E_SDB='' E2E_SDB1=''
		if [ "$_eb_step" = base ]; then
			mkfs.ext4 -q -F -U "$E2E_ROOT_UUID" -L e2e-root "${_eb_root_loop}p2" || return 1
		fi
	fi
	E2E_STEP=$_eb_step E2E_GEN=$_eb_gen E2E_LAYOUT=$_eb_layout E2E_ROOTFS_TAR=$4
	E2E_WORK=$_eb_work E2E_OUT=$_eb_dir
	export E2E_SDA E2E_SDA1 E2E_SDA2 E2E_SDB E2E_SDB1 E2E_STEP E2E_GEN E2E_LAYOUT \
		E2E_ROOTFS_TAR E2E_WORK E2E_OUT E2E_REPO E2E_K_OLD E2E_K_NEW E2E_DRIVER_DIR \
		E2E_DRIVER_NAME E2E_DEB E2E_VARIANT E2E_COMPRESS
	# shellcheck disable=SC2016 # expanded by the inner shell
	if ! unshare --mount --propagation private sh -c \
		'. "$1/scripts/lib/common.sh" && . "$1/scripts/lib/e2e-image.sh" && _e2e_inside' \
		sh "$E2E_REPO" >>"$_eb_dir/build.log" 2>&1; then
		tail -n 40 "$_eb_dir/build.log" >&2
		return 1
	fi
	_e2e_detach
	rm -rf "$_eb_work"
	trap - EXIT
}

_e2e_detach() {
	# shellcheck disable=SC2086 # the ones attached so far
	loop_detach $_eb_loops
	_eb_loops=
}

# _e2e_partition LAYOUT DIR: the empty disks with their partition tables.
_e2e_partition() {
	if [ "$1" = split ]; then
		gpt_image "$2/boot.img" "$E2E_BOOT_SIZE" "$E2E_BOOT_DISK_ID" "bios:$E2E_BIOS_PARTUUID" \
			"boot:$E2E_BOOT_PARTUUID" || return 1
		gpt_image "$2/root.img" "$E2E_ROOT_SIZE" "$E2E_ROOT_DISK_ID" "root:$E2E_ROOT_PARTUUID"
	else
		gpt_image "$2/root.img" "$E2E_ROOT_SIZE" "$E2E_ROOT_DISK_ID" "bios:$E2E_BIOS_PARTUUID" \
			"root:$E2E_ROOT_PARTUUID"
	fi
}

# ---------------------------------------------------------------------------------------------
# Inside the private mount namespace (sh -c ... _e2e_inside): every mount disappears with it.
# ---------------------------------------------------------------------------------------------

# _e2e_chroot CMD...: run CMD in the image with a clean environment.
_e2e_chroot() {
	chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 \
		HOME=/root DEBIAN_FRONTEND=noninteractive "$@"
}

_e2e_inside() {
	set -eu
	R=$E2E_WORK/root
	namespace_dev kmodguard-e2e-dev
	mknod -m 0666 /dev/tty c 5 0
	mkdir -p /dev/disk/by-uuid /dev/disk/by-partuuid /dev/pts /dev/shm "$R" "$E2E_WORK/bootfs"
	namespace_block_node sda "$E2E_SDA"
	namespace_block_node sda1 "$E2E_SDA1"
	namespace_block_node sda2 "$E2E_SDA2"
	ln -s ../../sda1 "/dev/disk/by-partuuid/$E2E_BIOS_PARTUUID"
	if [ "$E2E_LAYOUT" = split ]; then
		namespace_block_node sdb "$E2E_SDB"
		namespace_block_node sdb1 "$E2E_SDB1"
		ln -s ../../sda2 "/dev/disk/by-uuid/$E2E_BOOT_UUID"
		ln -s ../../sda2 "/dev/disk/by-partuuid/$E2E_BOOT_PARTUUID"
		ln -s ../../sdb1 "/dev/disk/by-uuid/$E2E_ROOT_UUID"
		ln -s ../../sdb1 "/dev/disk/by-partuuid/$E2E_ROOT_PARTUUID"
		_ei_rootdev=/dev/sdb1
	else
		ln -s ../../sda2 "/dev/disk/by-uuid/$E2E_ROOT_UUID"
		ln -s ../../sda2 "/dev/disk/by-partuuid/$E2E_ROOT_PARTUUID"
		_ei_rootdev=/dev/sda2
	fi

	mount "$_ei_rootdev" "$R"
	if [ "$E2E_STEP" = base ]; then
		log "unpacking $E2E_ROOTFS_TAR"
		tar -xpf "$E2E_ROOTFS_TAR" -C "$R" --numeric-owner
		if [ "$E2E_LAYOUT" = split ]; then
			mount /dev/sda2 "$E2E_WORK/bootfs"
			cp -a "$R/boot/." "$E2E_WORK/bootfs/"
			umount "$E2E_WORK/bootfs"
			find "$R/boot" -mindepth 1 -delete
		fi
	fi
	[ "$E2E_LAYOUT" = split ] && mount /dev/sda2 "$R/boot"
	if [ "$E2E_LAYOUT" = split ]; then
		namespace_chroot_mounts "$R" sda sdb
	else
		namespace_chroot_mounts "$R" sda
	fi
	mount -t tmpfs -o mode=0755 kmodguard-e2e-run "$R/run"
	mount -t tmpfs -o mode=1777 kmodguard-e2e-tmp "$R/tmp"

	case $E2E_STEP in
	base) _e2e_step_base ;;
	guarded) _e2e_step_guarded ;;
	esac
	_e2e_menu_paths >"$E2E_OUT/meta"
	cat "$E2E_OUT/meta"
	sync
	umount "$R/tmp" "$R/run"
	namespace_chroot_umounts "$R"
	[ "$E2E_LAYOUT" = split ] && umount "$R/boot"
	umount "$R"
}

# _e2e_initramfs: (re)build both kernels' images with the image's own generator.
_e2e_initramfs() {
	for _ein_k in ${E2E_INITRAMFS_KERNELS:-$E2E_K_OLD $E2E_K_NEW}; do
		log "initramfs for $_ein_k ($E2E_GEN)"
		_ein_t0=$(date +%s)
		if [ "$E2E_GEN" = dracut ]; then
			_e2e_chroot dracut --force --no-hostonly "/boot/initrd.img-$_ein_k" "$_ein_k"
		else
			if [ -e "$R/var/lib/initramfs-tools/$_ein_k" ]; then
				_e2e_chroot update-initramfs -u -k "$_ein_k"
			else
				_e2e_chroot update-initramfs -c -k "$_ein_k"
			fi
			[ -s "$R/boot/initrd.img-$_ein_k" ] || die "update-initramfs made no image for $_ein_k"
		fi
		log "initramfs for $_ein_k: $(($(date +%s) - _ein_t0)) s, $(du -k "$R/boot/initrd.img-$_ein_k" | cut -f1) KiB"
	done
}

# _e2e_grub: update-grub (and grub-install, first time) in the chroot.
_e2e_grub() {
	log "update-grub"
	_e2e_chroot update-grub
	if [ "$E2E_STEP" = base ]; then
		log "grub-install --target=i386-pc /dev/sda"
		_e2e_chroot grub-install --target=i386-pc /dev/sda
	fi
	[ -s "$R/boot/grub/grubenv" ] || _e2e_chroot grub-editenv /boot/grub/grubenv create
}

_e2e_step_base() {
	_fx=$E2E_REPO/Tests/Fixtures/e2e
	echo e2e-guest >"$R/etc/hostname"
	# A fixed machine id: one journal directory across boots (mmdebstrap leaves it empty).
	echo 5e2e00084b1d4c2a9e6f0a1b2c3d4e08 >"$R/etc/machine-id"
	if [ "$E2E_LAYOUT" = split ]; then
		printf 'UUID=%s / ext4 errors=remount-ro 0 1\nUUID=%s /boot ext4 defaults 0 2\n' \
			"$E2E_ROOT_UUID" "$E2E_BOOT_UUID" >"$R/etc/fstab"
	else
		printf 'UUID=%s / ext4 errors=remount-ro 0 1\n' "$E2E_ROOT_UUID" >"$R/etc/fstab"
	fi
	install -D -m 0644 "$_fx/grub-e2e.cfg" "$R/etc/default/grub.d/e2e.cfg"
	if [ "$E2E_GEN" = dracut ]; then
		mkdir -p "$R/etc/dracut.conf.d"
		sed "s/^compress=.*/compress=\"$E2E_COMPRESS\"/" "$_fx/dracut-e2e.conf" >"$R/etc/dracut.conf.d/e2e.conf"
		install -D -m 0644 "$_fx/grub-e2e-dracut.cfg" "$R/etc/default/grub.d/e2e-dracut.cfg"
	else
		mkdir -p "$R/etc/initramfs-tools/conf.d"
		sed "s/^COMPRESS=.*/COMPRESS=$E2E_COMPRESS/" "$_fx/initramfs-tools-e2e.conf" \
			>"$R/etc/initramfs-tools/conf.d/e2e"
	fi
	# The machine boots from the out-of-tree driver, so its initramfs must carry it, as the
	# driver's own instructions say (MODULES=most and dracut's generic set never copy updates/):
	# listed for the generator. A kernel without the driver still gets an image (a warning).
	if [ "$E2E_GEN" = dracut ]; then
		printf 'add_drivers+=" virtio_blk "\n' >"$R/etc/dracut.conf.d/e2e-driver.conf"
	else
		printf 'virtio_blk\n' >>"$R/etc/initramfs-tools/modules"
	fi
	install -D -m 0755 "$_fx/e2e-report" "$R/usr/local/sbin/e2e-report"
	install -D -m 0644 "$_fx/e2e-report.service" "$R/etc/systemd/system/e2e-report.service"
	install -D -m 0755 "$_fx/e2e-marks" "$R/usr/local/sbin/e2e-marks"
	install -D -m 0644 "$_fx/e2e-marks.service" "$R/etc/systemd/system/e2e-marks.service"
	install -D -m 0644 "$_fx/20-e2e.network" "$R/etc/systemd/network/20-e2e.network"
	mkdir -p "$R/var/log/journal"
	_e2e_chroot systemctl enable e2e-report.service e2e-marks.service systemd-networkd.service
	# No login prompts (a getty on ttyS0 hangs the console up), nothing periodic.
	_e2e_chroot systemctl mask serial-getty@ttyS0.service getty@tty1.service getty-static.service \
		apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer

	# The storage driver under guard: virtio_blk only as an out-of-tree build, for K_OLD.
	for _eb_k in "$E2E_K_OLD" "$E2E_K_NEW"; do
		rm -f "$R/lib/modules/$_eb_k/kernel/drivers/block/virtio_blk.ko"
	done
	cp -a "$E2E_DRIVER_DIR" "$R/usr/src/$E2E_DRIVER_NAME"
	chown -R 0:0 "$R/usr/src/$E2E_DRIVER_NAME"
	mkdir -p "$R/tmp/virtio_blk-build"
	cp -a "$E2E_DRIVER_DIR/." "$R/tmp/virtio_blk-build/"
	log "building virtio_blk for $E2E_K_OLD in the chroot"
	_e2e_chroot make -s -j2 -C "/lib/modules/$E2E_K_OLD/build" M=/tmp/virtio_blk-build modules
	install -D -m 0644 "$R/tmp/virtio_blk-build/virtio_blk.ko" \
		"$R/lib/modules/$E2E_K_OLD/updates/dkms/virtio_blk.ko"
	rm -rf "$R/tmp/virtio_blk-build"
	for _eb_k in "$E2E_K_OLD" "$E2E_K_NEW"; do
		_e2e_chroot depmod -a "$_eb_k"
	done
	_e2e_initramfs
	_e2e_grub
}

_e2e_step_guarded() {
	# What an admin does (README, "Install on a server"): apt install the package, edit
	# kmodguard.conf, rebuild the initramfs images. scripts/install is that, for a root.
	log "scripts/install --root: apt-get install ${E2E_DEB##*/}, kmodguard.conf"
	# two-modules: a second guarded module, in-tree in both kernels, loaded first.
	_modules=virtio_blk
	[ "${E2E_VARIANT:-guarded}" != two-modules ] || _modules="dm_mod virtio_blk"
	set -- --set "MODULES=$_modules" --set "WAIT_FOR=UUID=$E2E_ROOT_UUID" --set WAIT_TIMEOUT=20 \
		--set "SOURCE=/usr/src/$E2E_DRIVER_NAME" --set ACTIVATE=reboot
	if [ "$E2E_LAYOUT" = split ]; then
		set -- "$@" --set "BOOT_DEVICE=UUID=$E2E_BOOT_UUID"
	fi
	"$E2E_REPO/scripts/install" --root "$R" --deb "$E2E_DEB" "$@"
	_conf=$R/etc/kmodguard/kmodguard.conf
	cat "$_conf"
	install -D -m 0644 "$E2E_REPO/Tests/Fixtures/e2e/complete-console.conf" \
		"$R/etc/systemd/system/kmodguard-complete.service.d/e2e.conf"
	if [ "${E2E_VARIANT:-guarded}" = broken ]; then
		# The fallback kernel is broken too: its initramfs is built while its driver is missing
		# (so the image lacks virtio_blk), then the driver is back in its module tree, so the new
		# kernel's image still lists the old kernel as verified: the guard falls back to a
		# kernel that cannot boot either.
		_vb=$R/lib/modules/$E2E_K_OLD/updates/dkms/virtio_blk.ko
		mv "$_vb" "$E2E_WORK/virtio_blk.ko"
		_e2e_chroot depmod -a "$E2E_K_OLD"
		E2E_INITRAMFS_KERNELS=$E2E_K_OLD
		_e2e_initramfs
		mv "$E2E_WORK/virtio_blk.ko" "$_vb"
		_e2e_chroot depmod -a "$E2E_K_OLD"
		E2E_INITRAMFS_KERNELS=$E2E_K_NEW
		_e2e_initramfs
		E2E_INITRAMFS_KERNELS=
	else
		_e2e_initramfs
	fi
	# update-grub, as README's install steps say: with kmodguard configured, 01_kmodguard now
	# knows which kernels lack their driver (GRUB's fallback entry and automatic trial).
	# Nothing else: grubenv holds only what GRUB and kmodguard themselves write.
	_e2e_grub
	_e2e_chroot grub-editenv /boot/grub/grubenv list
}

# _e2e_menu_paths: the image's meta file.
_e2e_menu_paths() {
	printf 'E2E_IMAGE_LAYOUT=%s\nE2E_IMAGE_GEN=%s\nE2E_IMAGE_STEP=%s\n' "$E2E_LAYOUT" "$E2E_GEN" "$E2E_STEP"
	printf 'E2E_IMAGE_K_OLD=%s\nE2E_IMAGE_K_NEW=%s\n' "$E2E_K_OLD" "$E2E_K_NEW"
	printf "E2E_IMAGE_P_OLD='%s'\nE2E_IMAGE_P_NEW='%s'\n" \
		"$(grub_entry_path "$R/boot/grub/grub.cfg" "$E2E_K_OLD")" \
		"$(grub_entry_path "$R/boot/grub/grub.cfg" "$E2E_K_NEW")"
}
