#!/bin/sh
# regenerate.sh - regenerate the grub.cfg fixtures in this directory with Debian 12's REAL
# grub-mkconfig (grub-common / grub2-common / grub-pc 2.06, the scripts in /etc/grub.d run
# unmodified), and derive each NAME.expected sidecar from the generated NAME.cfg.
#
# Usage (as root, on a Debian 12 host):
#   sh Tests/Fixtures/grub/regenerate.sh [OUTDIR]        # OUTDIR defaults to this directory
#
# Environment:
#   KMODGUARD_GRUB_ROOTFS_TAR=FILE  reuse (or, if missing, create and keep) the bootstrapped
#                                   rootfs tarball instead of bootstrapping a fresh one.
#   KMODGUARD_GRUB_SUITE=NAME       Debian suite to bootstrap (default: bookworm).
#
# Host requirements: mmdebstrap, fdisk (sfdisk), e2fsprogs (mkfs.ext4), util-linux (losetup,
# partx, unshare, mount), tar; network access to the Debian mirrors of the host's apt sources.
#   apt-get install mmdebstrap fdisk e2fsprogs
# The root, the disk and the namespace are made with scripts/lib/common.sh's helpers (debian_root,
# gpt_image, loop_*, namespace_*), as the GRUB and e2e test images are.
#
# How it works (about 25 s; nothing outside a temporary directory is changed, the host's
# mounts are not touched):
#   1. mmdebstrap (debian_root: it downloads through apt, from the host's own apt sources) makes a
#      minbase bookworm rootfs with grub-pc installed: the same packages, /etc/default/grub
#      (written by grub-pc's postinst) and /etc/grub.d scripts a Debian 12 BIOS machine has.
#   2. A sparse GPT disk image gets partition 1 (root, ext4) and partition 2 (a separate /boot,
#      ext4), with FIXED disk, partition and filesystem UUIDs so that a rerun reproduces the
#      fixtures byte for byte. It is attached with losetup (partx adds the partitions).
#   3. In a private mount namespace (unshare), a tmpfs replaces /dev and gets device nodes
#      named like a real disk (/dev/sda, /dev/sda1, /dev/sda2 - or /dev/vdaN for the virtio
#      fixture - with the loop device's numbers) plus the /dev/disk/by-uuid and by-partuuid
#      links that udev would make. The name matters: grub-probe reports the device named in
#      /proc/self/mountinfo and guesses the BIOS drive (hd0) from an sdX name; and
#      grub-mkconfig_lib treats /dev/loopN as a loop-mounted image file (it would emit
#      "loopback" commands a real machine never has). The rootfs is unpacked onto partition 1,
#      which is mounted from /dev/sda1 (or /dev/vda1) with /dev, /proc and /sys inside it.
#      udev is installed in the rootfs because grub-probe runs `udevadm info` to find a
#      partition's start; udevd itself does not run. For the sdX disk a small tmpfs over the
#      chroot's /sys/block adds the /sys/block/sda -> .../device/vendor ("ATA") that grub-probe
#      reads to compute the search hints (see sata_sysfs below).
#   4. For each fixture: empty vmlinuz-, initrd.img-, config- and System.map-KVER files go into
#      /boot (10_linux only looks at the names), the fixture's settings go into
#      /etc/default/grub.d/kmodguard-fixture.cfg (grub-mkconfig sources
#      /etc/default/grub.d/*.cfg after /etc/default/grub), and `chroot ROOT update-grub`
#      writes /boot/grub/grub.cfg, which is copied here as NAME.cfg.
#   5. NAME.expected is derived from NAME.cfg with the awk program below: one line
#      "KVER<TAB>ID_PATH" per non-recovery, kernel-specific menu entry, in file order, where
#      ID_PATH is "submenu_id>entry_id" inside a submenu and just "entry_id" at top level - the
#      argument grub-reboot needs to boot that kernel once. The top-level "simple" entry
#      (id gnulinux-simple-UUID, it boots whichever kernel is newest) is not listed.
set -eu
script_dir=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../../../scripts/lib/common.sh
. "$script_dir/../../../scripts/lib/common.sh"

SUITE=${KMODGUARD_GRUB_SUITE:-bookworm}

# Fixed identifiers: the fixtures only stay reproducible if these never change.
DISK_LABEL_ID=5B1F3A2C-0D4E-4F6A-8B7C-9D0E1F2A3B4C
ROOT_PARTUUID=1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f
BOOT_PARTUUID=2d3e4f5a-6b7c-4d8e-9fa0-1b2c3d4e5f60
ROOT_UUID=3f1c2b9e-5d47-4a8e-9b61-2c0d7e4a8f15
BOOT_UUID=8a6e4d20-1b3c-4f5e-a7d9-0c2b4e6f8a13

# Print "KVER<TAB>ID_PATH" for every kernel-specific, non-recovery menuentry of a grub.cfg.
derive_expected() {
    awk '
        function id_of(line,    s) {
            if (!match(line, /\$menuentry_id_option \047[^\047]*\047/)) return ""
            s = substr(line, RSTART, RLENGTH)
            sub(/^\$menuentry_id_option \047/, "", s)
            sub(/\047$/, "", s)
            return s
        }
        /^[ \t]*submenu[ \t]/   { depth++; kind[depth] = "submenu"; sid[depth] = id_of($0); next }
        /^[ \t]*menuentry[ \t]/ { depth++; kind[depth] = "entry"; eid = id_of($0); kver = ""; next }
        /\{[ \t]*$/             { depth++; kind[depth] = "other"; next }
        /^[ \t]*linux[ \t]/ && kind[depth] == "entry" {
            kver = $2
            sub(/^.*\/vmlinuz-/, "", kver)
            next
        }
        /^[ \t]*\}[ \t]*$/ {
            if (kind[depth] == "entry" && kver != "" && eid != "" &&
                eid !~ /-recovery-/ && eid !~ /^gnulinux-simple-/) {
                path = eid
                if (depth > 1 && kind[depth - 1] == "submenu") path = sid[depth - 1] ">" eid
                printf "%s\t%s\n", kver, path
            }
            depth--
            next
        }
    ' "$1"
}

# --------------------------------------------------------------------------------------------
# Stage 2: runs inside `unshare --mount`; every mount made here disappears with the namespace.
# --------------------------------------------------------------------------------------------
inside_namespace() {
    work=$KMG_WORK
    out=$KMG_OUT
    root=$work/root

    namespace_dev kmodguard-fixture-dev
    mkdir -p /dev/disk/by-uuid /dev/disk/by-partuuid "$root" "$work/bootfs"

    use_disk sda
    mount /dev/sda1 "$root"
    tar -xpf "$KMG_ROOTFS_TAR" -C "$root" --numeric-owner
    # A separate /boot gets what the rootfs's /boot holds (grub/unicode.pf2 from grub-pc).
    mount /dev/sda2 "$work/bootfs"
    cp -a "$root/boot/." "$work/bootfs/"
    umount "$work/bootfs"
    umount "$root"

    # A SATA/SAS/SCSI disk (or a RAID volume presented as a SCSI disk): grub-probe guesses
    # BIOS drive hd0 from the name sdX, so every entry gets "set root='hd0,gpt1'" and a
    # feature_platform_search_hint branch with --hint-bios/--hint-efi/--hint-baremetal.
    mount_root sda
    generate two-kernels '6.1.0-55-cloud-amd64 6.1.0-56-cloud-amd64'
    generate no-submenu '6.1.0-55-cloud-amd64 6.1.0-56-cloud-amd64' 'GRUB_DISABLE_SUBMENU=y'
    generate no-recovery '6.1.0-55-cloud-amd64 6.1.0-56-cloud-amd64' 'GRUB_DISABLE_RECOVERY=true'
    generate version-order '6.1.0-9-amd64 6.1.0-10-amd64 6.1.0-10-cloud-amd64'
    generate one-kernel '6.1.0-56-cloud-amd64'
    generate saved-default '6.1.0-55-cloud-amd64 6.1.0-56-cloud-amd64' \
        'GRUB_DEFAULT=saved
GRUB_SAVEDEFAULT=true'
    clear_kernels
    mount "/dev/${disk}2" "$root/boot"
    generate separate-boot '6.1.0-55-cloud-amd64 6.1.0-56-cloud-amd64'
    umount_root

    # A virtio disk (cloud VM): grub-probe guesses no BIOS drive for vdX (nor for nvmeXnY),
    # so the entries carry a bare "search --no-floppy --fs-uuid --set=root UUID".
    mount_root vda
    generate virtio-disk '6.1.0-55-cloud-amd64 6.1.0-56-cloud-amd64'
    umount_root
}

# use_disk NAME: device nodes /dev/NAME, /dev/NAME1, /dev/NAME2 for the loop device and its
# partitions, and the /dev/disk/by-* links udev would make for them.
use_disk() {
    if [ -n "${disk:-}" ]; then
        rm -f "/dev/$disk" "/dev/${disk}1" "/dev/${disk}2" \
            "/dev/disk/by-uuid/$ROOT_UUID" "/dev/disk/by-uuid/$BOOT_UUID" \
            "/dev/disk/by-partuuid/$ROOT_PARTUUID" "/dev/disk/by-partuuid/$BOOT_PARTUUID"
    fi
    disk=$1
    namespace_block_node "$disk" "$KMG_DISK_DEV"
    namespace_block_node "${disk}1" "$KMG_ROOT_DEV"
    namespace_block_node "${disk}2" "$KMG_BOOT_DEV"
    ln -s "../../${disk}1" "/dev/disk/by-uuid/$ROOT_UUID"
    ln -s "../../${disk}2" "/dev/disk/by-uuid/$BOOT_UUID"
    ln -s "../../${disk}1" "/dev/disk/by-partuuid/$ROOT_PARTUUID"
    ln -s "../../${disk}2" "/dev/disk/by-partuuid/$BOOT_PARTUUID"
}

# mount_root NAME: mount /dev/NAME1 (so /proc/self/mountinfo names it) as the chroot. An sdX
# disk gets a /sys/block/sdX on an AHCI/SATA port (namespace_chroot_mounts): grub-probe
# --target=hints_string resolves /sys/block/sda/device and reads its "vendor"
# (grub_util_devname_to_ofpath), fails without them, and the entries then lose their search
# hints. On x86 no "obppath" is found, so no IEEE1275 hint results - as on real hardware.
mount_root() {
    use_disk "$1"
    mount "/dev/${disk}1" "$root"
    case $disk in
    sd*) namespace_chroot_mounts "$root" "$disk" ;;
    *) namespace_chroot_mounts "$root" ;;
    esac
}

umount_root() {
    if mountpoint -q "$root/boot"; then umount "$root/boot"; fi
    namespace_chroot_umounts "$root"
    umount "$root"
}

clear_kernels() {
    rm -f "$root"/boot/vmlinuz-* "$root"/boot/initrd.img-* "$root"/boot/config-* \
        "$root"/boot/System.map-*
}

# generate NAME "KVER..." [SETTINGS]: run update-grub in the chroot, keep NAME.cfg/.expected.
generate() {
    name=$1
    kernels=$2
    settings=${3:-}
    clear_kernels
    rm -f "$root/boot/grub/grub.cfg"
    for kver in $kernels; do
        for file in vmlinuz initrd.img config System.map; do
            : >"$root/boot/$file-$kver"
        done
    done
    snippet=$root/etc/default/grub.d/kmodguard-fixture.cfg
    if [ -n "$settings" ]; then
        printf '%s\n' "$settings" >"$snippet"
    else
        rm -f "$snippet"
    fi
    if ! chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 \
        /usr/sbin/update-grub >"$work/$name.log" 2>&1; then
        cat "$work/$name.log" >&2
        die "update-grub failed for $name"
    fi
    cp "$root/boot/grub/grub.cfg" "$out/$name.cfg"
    chmod 0644 "$out/$name.cfg" # grub-mkconfig leaves grub.cfg 0600
    derive_expected "$out/$name.cfg" >"$out/$name.expected"
    printf '%s: %s entries\n' "$name" "$(wc -l <"$out/$name.expected")"
    sed 's/^/    /' "$work/$name.log"
}

# --------------------------------------------------------------------------------------------
# Stage 1: host side.
# --------------------------------------------------------------------------------------------
if [ "${1:-}" = "--inside-namespace" ]; then
    inside_namespace
    exit 0
fi

[ "$(id -u)" -eq 0 ] || die "must run as root (losetup, mount, chroot)"
for tool in mmdebstrap sfdisk mkfs.ext4 losetup partx unshare mount chroot tar awk; do
    command -v "$tool" >/dev/null 2>&1 || die "missing tool: $tool"
done

script=$script_dir/$(basename "$0")
out=$(cd "${1:-$script_dir}" && pwd)

work=$(mktemp -d /tmp/kmodguard-grub-fixtures.XXXXXX)
loop=
cleanup() {
    if [ -n "$loop" ]; then loop_detach "$loop"; fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

rootfs_tar=${KMODGUARD_GRUB_ROOTFS_TAR:-$work/rootfs.tar}
if [ ! -s "$rootfs_tar" ]; then
    debian_root "$SUITE" "$rootfs_tar" "$work/mmdebstrap.log" --variant=minbase \
        --include=grub-pc,udev --format=tar || die "mmdebstrap failed"
fi

disk=$work/disk.img
gpt_image "$disk" 1G "$DISK_LABEL_ID" "root:$ROOT_PARTUUID:700MiB" "boot:$BOOT_PARTUUID:128MiB"
loop=$(loop_attach "$disk" 2) || die "no partition devices for $disk"
mkfs.ext4 -q -F -U "$ROOT_UUID" -L root "${loop}p1"
mkfs.ext4 -q -F -U "$BOOT_UUID" -L boot "${loop}p2"

KMG_DISK_DEV=$(loop_devnum "$loop")
KMG_ROOT_DEV=$(loop_devnum "$loop" 1)
KMG_BOOT_DEV=$(loop_devnum "$loop" 2)
KMG_WORK=$work
KMG_OUT=$out
KMG_ROOTFS_TAR=$rootfs_tar
export KMG_DISK_DEV KMG_ROOT_DEV KMG_BOOT_DEV KMG_WORK KMG_OUT KMG_ROOTFS_TAR

unshare --mount --propagation private sh "$script" --inside-namespace
printf 'fixtures written to %s\n' "$out"
