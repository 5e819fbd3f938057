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
#
# How it works (about 25 s; nothing outside a temporary directory is changed, the host's
# mounts are not touched):
#   1. mmdebstrap (which downloads through apt, from the host's own apt sources) makes a
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

SUITE=${KMODGUARD_GRUB_SUITE:-bookworm}

# Fixed identifiers: the fixtures only stay reproducible if these never change.
DISK_LABEL_ID=5B1F3A2C-0D4E-4F6A-8B7C-9D0E1F2A3B4C
ROOT_PARTUUID=1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f
BOOT_PARTUUID=2d3e4f5a-6b7c-4d8e-9fa0-1b2c3d4e5f60
ROOT_UUID=3f1c2b9e-5d47-4a8e-9b61-2c0d7e4a8f15
BOOT_UUID=8a6e4d20-1b3c-4f5e-a7d9-0c2b4e6f8a13

die() {
    printf 'regenerate.sh: %s\n' "$*" >&2
    exit 1
}

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

    mount -t tmpfs -o mode=0755,size=1m kmodguard-fixture-dev /dev
    mknod -m 0666 /dev/null c 1 3
    mknod -m 0666 /dev/zero c 1 5
    mknod -m 0666 /dev/full c 1 7
    mknod -m 0666 /dev/random c 1 8
    mknod -m 0666 /dev/urandom c 1 9
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
    mknod -m 0660 "/dev/$disk" b "${KMG_DISK_DEV%:*}" "${KMG_DISK_DEV#*:}"
    mknod -m 0660 "/dev/${disk}1" b "${KMG_ROOT_DEV%:*}" "${KMG_ROOT_DEV#*:}"
    mknod -m 0660 "/dev/${disk}2" b "${KMG_BOOT_DEV%:*}" "${KMG_BOOT_DEV#*:}"
    ln -s "../../${disk}1" "/dev/disk/by-uuid/$ROOT_UUID"
    ln -s "../../${disk}2" "/dev/disk/by-uuid/$BOOT_UUID"
    ln -s "../../${disk}1" "/dev/disk/by-partuuid/$ROOT_PARTUUID"
    ln -s "../../${disk}2" "/dev/disk/by-partuuid/$BOOT_PARTUUID"
}

# mount_root NAME: mount /dev/NAME1 (so /proc/self/mountinfo names it) as the chroot.
mount_root() {
    use_disk "$1"
    mount "/dev/${disk}1" "$root"
    mount --bind /dev "$root/dev"
    mount -t proc proc "$root/proc"
    mount -t sysfs sysfs "$root/sys"
    if [ "$disk" = sda ]; then
        sata_sysfs
    fi
}

# sata_sysfs: make /sys/block/sda look like a disk on an AHCI/SATA port, over a tmpfs on the
# chroot's /sys/block (the real sysfs has no sda; /sys/dev/block stays real for udevadm).
# grub-probe --target=hints_string needs this: it resolves /sys/block/sda/device and reads its
# "vendor" (grub_util_devname_to_ofpath), fails without them, and the entries then lose their
# search hints. On x86 no "obppath" is found, so no IEEE1275 hint results - as on real hardware.
sata_sysfs() {
    sysblock=$root/sys/block
    mount -t tmpfs -o mode=0755,size=1m kmodguard-fixture-sys-block "$sysblock"
    scsi=$sysblock/.kmodguard-fixture-ata1/host0/target0:0:0/0:0:0:0
    mkdir -p "$scsi/block/sda"
    printf 'ATA     \n' >"$scsi/vendor"
    ln -s ../.. "$scsi/block/sda/device"
    ln -s .kmodguard-fixture-ata1/host0/target0:0:0/0:0:0:0/block/sda "$sysblock/sda"
}

umount_root() {
    if mountpoint -q "$root/boot"; then umount "$root/boot"; fi
    if mountpoint -q "$root/sys/block"; then umount "$root/sys/block"; fi
    umount "$root/sys" "$root/proc" "$root/dev" "$root"
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

script_dir=$(cd "$(dirname "$0")" && pwd)
script=$script_dir/$(basename "$0")
out=$(cd "${1:-$script_dir}" && pwd)

work=$(mktemp -d /tmp/kmodguard-grub-fixtures.XXXXXX)
loop=
cleanup() {
    if [ -n "$loop" ]; then
        partx -d "$loop" 2>/dev/null || true
        losetup -d "$loop" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

rootfs_tar=${KMODGUARD_GRUB_ROOTFS_TAR:-$work/rootfs.tar}
if [ ! -s "$rootfs_tar" ]; then
    # The host's own apt sources (same mirror, same snapshot) when they carry $SUITE.
    sources=
    for candidate in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
        if [ -f "$candidate" ] && grep -qw "$SUITE" "$candidate"; then
            sources=$candidate
            break
        fi
    done
    # $sources is deliberately unquoted: empty means "mmdebstrap's default mirror".
    # shellcheck disable=SC2086
    mmdebstrap --quiet --mode=root --variant=minbase --include=grub-pc,udev --format=tar \
        "$SUITE" "$rootfs_tar" $sources
fi

disk=$work/disk.img
truncate -s 1G "$disk"
sfdisk --quiet "$disk" <<EOF
label: gpt
label-id: $DISK_LABEL_ID
size=700MiB, type=L, uuid=$ROOT_PARTUUID, name=root
size=128MiB, type=L, uuid=$BOOT_PARTUUID, name=boot
EOF
loop=$(losetup --find --show --partscan "$disk")
[ -e "${loop}p1" ] || partx -a "$loop"
[ -e "${loop}p2" ] || die "no partition devices for $loop"
mkfs.ext4 -q -F -U "$ROOT_UUID" -L root "${loop}p1"
mkfs.ext4 -q -F -U "$BOOT_UUID" -L boot "${loop}p2"

lname=$(basename "$loop")
KMG_DISK_DEV=$(cat "/sys/class/block/$lname/dev")
KMG_ROOT_DEV=$(cat "/sys/class/block/${lname}p1/dev")
KMG_BOOT_DEV=$(cat "/sys/class/block/${lname}p2/dev")
KMG_WORK=$work
KMG_OUT=$out
KMG_ROOTFS_TAR=$rootfs_tar
export KMG_DISK_DEV KMG_ROOT_DEV KMG_BOOT_DEV KMG_WORK KMG_OUT KMG_ROOTFS_TAR

unshare --mount --propagation private sh "$script" --inside-namespace
printf 'fixtures written to %s\n' "$out"
